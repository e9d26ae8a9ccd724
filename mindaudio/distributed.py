"""Rank and group size. Single-process runs get (0, 1); data-parallel launch support lives here too."""
import os


def launched_ranks():
    """(rank, size) announced by a launcher's environment, before any communication is initialised."""
    for rank_key, size_key in (("OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"), ("RANK_ID", "RANK_SIZE"),
                               ("MS_NODE_ID", "MS_WORKER_NUM")):
        if rank_key in os.environ and size_key in os.environ:
            return int(os.environ[rank_key]), int(os.environ[size_key])
    return 0, 1


def setup():
    """Initialise communication when launched on several ranks; returns (rank, size, grad_reducer_factory)."""
    rank, size = launched_ranks()
    if size == 1:
        return 0, 1
    from mindspore.communication import get_group_size, get_rank, init
    init()
    return get_rank(), get_group_size()
