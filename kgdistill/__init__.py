"""kgdistill: knowledge-graph reasoning-path distillation.

The foundation: :class:`KnowledgeGraph` (graph core), readers for KG files and KGQA
question files, reasoning paths and the direction-aware path verifier.
"""
from kgdistill.datasets import Question, load_questions
from kgdistill.graph import INVERSE_PREFIX, GraphBackend, KnowledgeGraph
from kgdistill.paths import (EnumerationLimits, GroundedPath, Relation, RelationPath,
                             enumerate_relation_paths, execute_relation_path, parse_path)
from kgdistill.readers import KGFormatError, load_graph
from kgdistill.verify import verify_path, verify_paths, verify_relation_path

__version__ = "0.1.0"

__all__ = [
    "INVERSE_PREFIX", "GraphBackend", "KnowledgeGraph", "KGFormatError", "load_graph",
    "Question", "load_questions", "Relation", "RelationPath", "GroundedPath", "parse_path",
    "EnumerationLimits", "enumerate_relation_paths", "execute_relation_path",
    "verify_path", "verify_paths", "verify_relation_path",
]
