"""Behaviour around the spots mypy flagged, pinned while they were rewritten for the checker.

`from_open_params` used to splat a `dict[str, int]` of sizes into `K8sOpen` (mypy could not
tell which fields it filled, `alongside: bool` among them); the sizes now go by name, and
this checks they land in the right fields for both kinds of source, the rest left default.
"""

from __future__ import annotations

import json

from falco_cli.k8s_source import K8sOpen, from_open_params


def test_file_source_carries_the_plugin_sizes_and_nothing_else() -> None:
    cfg = json.dumps({"maxEventSize": 4096, "webhookMaxBatchSize": 65536})
    spec = from_open_params("/var/log/audit.log", cfg)
    assert spec == K8sOpen("file", path="/var/log/audit.log", max_event_size=4096,
                           max_batch=65536)
    assert spec.alongside is False and spec.workers == 16


def test_webhook_source_carries_the_plugin_sizes_and_nothing_else() -> None:
    spec = from_open_params("http://:9765/k8s-audit",
                            {"maxEventSize": 10, "webhookMaxBatchSize": 20})
    assert spec == K8sOpen("webhook", address="0.0.0.0", port=9765, endpoint="/k8s-audit",
                           max_event_size=10, max_batch=20)
    assert spec.alongside is False and spec.ssl_certificate is None


def test_sizes_default_to_the_plugin_defaults() -> None:
    # the k8saudit plugin's PluginConfig defaults: maxEventSize 262144, webhookMaxBatchSize
    # 12582912
    spec = from_open_params("/x.json")
    assert (spec.max_event_size, spec.max_batch) == (262144, 12 * 1024 * 1024)
