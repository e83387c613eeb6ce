import numpy as np

from kgdistill.graph import KnowledgeGraph
from kgdistill.subgraph import SubgraphConfig, extract_subgraph


def test_two_hop_ball(tiny):
    joe = tiny.entity_id("Joe Biden")
    sub = extract_subgraph(tiny, [joe], SubgraphConfig(num_hops=1))
    assert sub.nodes[0] == joe and sub.num_topics == 1
    names = {tiny.entity_label(e) for e in sub.nodes}
    assert names == {"Joe Biden", "Scranton", "Jill Biden", "Hunter Biden"}
    # Edges leave expanded nodes only, both directions encoded as 2r + inverse.
    assert set(sub.edge_index[0].tolist()) == {0}
    child = tiny.relation_id("child_of")
    hunter = int(sub.local_ids(np.array([tiny.entity_id("Hunter Biden")]))[0])
    assert 2 * child + 1 in sub.edge_type[sub.edge_index[1] == hunter].tolist()
    two = extract_subgraph(tiny, [joe], SubgraphConfig(num_hops=2))
    assert {tiny.entity_label(e) for e in two.nodes} >= {"USA", "Hammonton", "Wilmington"}
    assert two.num_edges > sub.num_edges


def test_hub_cap_keeps_hub_but_does_not_expand():
    triples = [("q", "r", "hub")] + [("hub", "s", f"e{i}") for i in range(50)]
    kg = KnowledgeGraph.from_triples(triples)
    capped = extract_subgraph(kg, [kg.entity_id("q")], SubgraphConfig(num_hops=2, max_expand_degree=10))
    assert capped.num_nodes == 2 and capped.unexpanded_hubs == 1
    full = extract_subgraph(kg, [kg.entity_id("q")], SubgraphConfig(num_hops=2, max_expand_degree=100))
    assert full.num_nodes == 52
    # A topic entity is always expanded, even a hub.
    from_hub = extract_subgraph(kg, [kg.entity_id("hub")], SubgraphConfig(num_hops=1, max_expand_degree=10))
    assert from_hub.num_nodes == 52


def test_to_pyg(tiny):
    sub = extract_subgraph(tiny, [tiny.entity_id("USA")], SubgraphConfig(num_hops=2))
    data = sub.to_pyg()
    assert data.num_nodes == sub.num_nodes and data.edge_index.shape[1] == sub.num_edges
    assert data.topic_mask.sum() == 1 and bool(data.topic_mask[0])
    assert data.node_ids.tolist() == sub.nodes.tolist()
