"""Regenerate graphs/world_questions.jsonl from graphs/world.ttl.

Each template is a question pattern with the relation path that answers it; the
answers are *computed* by running that path from the topic entity over the graph,
and the gold path is the first grounding that reaches the first answer. Run from
the repository root: ``python scripts/make_world_questions.py``.
"""
import json
import random
from pathlib import Path

from kgdistill.paths import RelationPath, execute_relation_path
from kgdistill.readers import load_graph

HERE = Path(__file__).resolve().parents[1] / "kgdistill" / "datasets" / "world"  # graphs/
TEMPLATES = [  # (question with {}, relation path, topic relation that selects topics)
    ("Where was {} born?", "born_in"),
    ("Which party is {} a member of?", "member_of"),
    ("Where did {} study?", "educated_at"),
    ("Who founded {}?", "founded_by"),
    ("Which city is the capital of {}?", "~capital_of"),
    ("Where is {} headquartered?", "headquartered_in"),
    ("Who is married to {}?", "~spouse_of"),
    ("Who are the children of {}?", "~child_of"),
    ("What country is the city where {} was born in?", "born_in -> city_of"),
    ("In which city is the university where {} studied?", "educated_at -> located_in"),
    ("In which country is the party of {} active?", "member_of -> active_in"),
    ("Where was the spouse of {} born?", "spouse_of -> born_in"),
    ("Which organisation confers the prize that {} won?", "award -> conferred_by"),
    ("Which universities did the founder of {} attend?", "founded_by -> educated_at"),
    ("Which office of which country did {} hold? Name the country.", "held_position -> office_of"),
    ("What currency is used in the country where {} was born?", "born_in -> city_of -> currency"),
    ("On which continent is the country where {} was born?", "born_in -> city_of -> continent"),
    ("In which country is the university where {} studied?", "educated_at -> located_in -> city_of"),
    ("What language is spoken in the country where {} was born?", "born_in -> city_of -> official_language"),
    ("In which country was the spouse of {} born?", "spouse_of -> born_in -> city_of"),
    ("In which country was the founder of {} born?", "founded_by -> born_in -> city_of"),
    ("In which city is the body that confers the prize won by {} based?", "award -> conferred_by -> headquartered_in"),
    ("Who else studied at the university {} attended?", "educated_at -> ~educated_at"),
]


def main() -> None:
    kg = load_graph(HERE / "world.ttl")
    rows = []
    for template, path_text in TEMPLATES:
        path = RelationPath.parse(path_text)
        first = path.relations[0]
        rid = kg.relation_id(first.name)
        ends = kg.tail if first.inverse else kg.head
        topics = sorted({kg.entity_label(int(e)) for e in ends[kg.relation == rid]})
        for topic in topics:
            run = execute_relation_path(kg, [topic], path)
            answers = [a for a in run.endpoints if a != topic]
            if not answers or len(answers) > 8:
                continue
            gold = run.groundings(endpoint=answers[0], limit=1)[0]
            rows.append({"id": f"world-{len(rows) + 1:03d}", "question": template.format(topic),
                         "topic_entities": [topic], "answers": answers, "hops": len(path),
                         "relation_path": str(path), "gold_path": str(gold)})
    with open(HERE / "world_questions.jsonl", "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    # A fixed train/validation split for `kgdistill train` and the demo.
    order = list(range(len(rows)))
    random.Random(0).shuffle(order)
    n_valid = len(rows) // 7
    for name, idx in (("world_train.jsonl", sorted(order[n_valid:])), ("world_valid.jsonl", sorted(order[:n_valid]))):
        with open(HERE / name, "w", encoding="utf-8") as fh:
            for i in idx:
                fh.write(json.dumps(rows[i], ensure_ascii=False) + "\n")
    print(f"wrote {len(rows)} questions ({len(rows) - n_valid} train, {n_valid} valid)")


if __name__ == "__main__":
    main()
