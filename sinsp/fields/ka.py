"""The ``k8s_audit`` source's field classes (``ka.*``, ``json.*``/``jevt.*``, ``evt.*``).

They live in :mod:`sinsp.k8saudit.fields`; this module only makes importing every
``sinsp.fields`` module (as the rule engine does for its default registries) register them too.
"""

from sinsp.k8saudit.fields import REGISTRY

__all__ = ["REGISTRY"]
