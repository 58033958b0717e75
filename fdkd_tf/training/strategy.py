"""Distribution strategies by name (``--strategy``)."""

from __future__ import annotations

import re

import tensorflow as tf

STRATEGIES = ("auto", "default", "mirrored", "multi_worker")
#: a collective that waits longer than this for a peer fails (a worker that died
#: stops the others with an error instead of a hang)
COLLECTIVE_TIMEOUT_S = 300


def make_strategy(name: str = "auto") -> tf.distribute.Strategy:
    """Returns the `tf.distribute.Strategy` for ``name``.

    ``auto`` picks `MirroredStrategy` when two or more GPUs are visible and the
    default (single-device) strategy otherwise; ``multi_worker`` reads the cluster
    from ``TF_CONFIG``.

    Args:
        name: one of ``auto | default | mirrored | multi_worker``.
    """
    if name not in STRATEGIES:
        raise ValueError(f"unknown strategy {name!r}; choose one of {', '.join(STRATEGIES)}")
    if name == "auto":
        name = "mirrored" if len(tf.config.list_logical_devices("GPU")) >= 2 else "default"
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy(
            communication_options=tf.distribute.experimental.CommunicationOptions(timeout_seconds=COLLECTIVE_TIMEOUT_S)
        )
    return tf.distribute.get_strategy()


class ClusterError(RuntimeError):
    """A multi-worker run lost a peer: one line naming the tasks and how to go on."""


#: TensorFlow errors a collective raises when a peer dies or stops answering
PEER_ERRORS = (tf.errors.UnavailableError, tf.errors.DeadlineExceededError, tf.errors.AbortedError)


def cluster_error(error: tf.errors.OpError, stage: str) -> ClusterError:
    """``error`` of a collective, as one line: the unhealthy tasks and the resume."""
    message = error.message.split("unhealthy", 1)[-1]  # the tasks TensorFlow found dead, when it says
    tasks = sorted(set(re.findall(r"/job:\w+/replica:\d+/task:\d+", message)))
    who = f"unhealthy tasks: {', '.join(tasks)}" if tasks else type(error).__name__
    return ClusterError(
        f"a worker of the cluster stopped during stage {stage!r} ({who}); the chief's last checkpoint is intact: "
        "restart every worker with the same command to resume"
    )


def worker_role(strategy: tf.distribute.Strategy) -> tuple[bool, str]:
    """``(is chief, task name)`` of this process in a multi-worker cluster.

    The chief is the ``chief`` task when ``TF_CONFIG`` names one, else worker 0 (as
    TensorFlow's multi-worker guide sets it); a single process is its own chief.
    """
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not getattr(strategy.extended, "_in_multi_worker_mode", lambda: False)():
        return True, "chief"
    task_type, task_id = resolver.task_type, resolver.task_id
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    chief = task_type == "chief" or (not has_chief and task_type == "worker" and task_id == 0)
    return chief, f"{task_type}{task_id}"
