"""The scale-out harness's own pieces that can be checked without a cluster."""

from scaleout import _cluster_id


def test_a_kraft_cluster_id_never_reads_as_an_option() -> None:
    # About one draw in 64 of a plain base64 id begins with `-`.
    ids = [_cluster_id() for _ in range(2000)]
    assert all(not cluster.startswith("-") and len(cluster) == 22 for cluster in ids)
    assert len(set(ids)) == len(ids)
