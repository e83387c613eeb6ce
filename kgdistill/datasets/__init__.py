"""Question files and datasets.

* :mod:`kgdistill.datasets.formats`: the :class:`Question` record, readers for
  MetaQA, PathQuestion, RoG and kgdistill JSONL, and answer coverage;
* :mod:`kgdistill.datasets.named`: datasets by name (``world``, the example graph
  shipped in the package; ``metaqa-2hop``, ``pq-3h``, ... found under a data root);
* ``world/``: the example graph and its questions (package data).
"""
from kgdistill.datasets.formats import (QUESTION_FORMATS, Coverage, Question, QuestionReader, answer_coverage,
                                        detect_question_format, load_questions, save_questions, within_hops)
from kgdistill.datasets.named import NAMED_DATASETS, NamedDataset, dataset, world_dir

__all__ = ["QUESTION_FORMATS", "Coverage", "Question", "QuestionReader", "answer_coverage",
           "detect_question_format", "load_questions", "save_questions", "within_hops",
           "NAMED_DATASETS", "NamedDataset", "dataset", "world_dir"]
