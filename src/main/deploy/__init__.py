"""Deploy rendered manifests to a cluster with kubectl server-side apply.

`plan`, `fields`, `objects` and `kubeconfig` are pure and tested without a
cluster; `kubectl` runs the commands and `execute` puts the steps in order.
"""

from main.deploy.execute import DEFAULT_ROLLOUT_TIMEOUT, run_deploy
from main.deploy.kubeconfig import KubeconfigTarget, check_kubeconfig, read_kubeconfig
from main.deploy.kubectl import Kubectl
from main.deploy.objects import KubeObject, ObjectKey, objects_from_manifests
from main.deploy.plan import Action, Change, Plan, compute_plan, format_plan

__all__ = [
    "DEFAULT_ROLLOUT_TIMEOUT",
    "Action",
    "Change",
    "KubeObject",
    "KubeconfigTarget",
    "Kubectl",
    "ObjectKey",
    "Plan",
    "check_kubeconfig",
    "compute_plan",
    "format_plan",
    "objects_from_manifests",
    "read_kubeconfig",
    "run_deploy",
]
