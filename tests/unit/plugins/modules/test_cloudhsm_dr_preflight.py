# -*- coding: utf-8 -*-

# Copyright: Contributors to the hsmops.cloudhsm collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The mutual TLS check of cloudhsm_dr_preflight: a cluster tagged as enforcing mTLS needs client certificates."""

from __future__ import annotations

from ansible_collections.hsmops.cloudhsm.plugins.modules import cloudhsm_dr_preflight
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.modules.cloudhsm_aws_fixtures import api_calls  # noqa: F401 pylint: disable=unused-import
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.modules.cloudhsm_aws_fixtures import aws  # noqa: F401 pylint: disable=unused-import
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.modules.cloudhsm_aws_fixtures import aws_env  # noqa: F401 pylint: disable=unused-import
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.modules.cloudhsm_aws_fixtures import create_cluster
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.modules.cloudhsm_aws_fixtures import fast_waits  # noqa: F401 pylint: disable=unused-import
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.modules.cloudhsm_aws_fixtures import make_subnets
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.modules.cloudhsm_aws_fixtures import mutating
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.modules.cloudhsm_aws_fixtures import run_module

MTLS_TAG = "hsmops.cloudhsm:mtls-enforcement"


def settings(mtls=None, sdk=5):
    args = {
        "source": {"name": "primary", "region": "us-east-1", "availability_zones": ["us-east-1a"]},
        "clones": [{"name": "dr-clone", "region": "us-west-2", "availability_zones": ["us-west-2a"]}],
        "sdk": sdk,
        "check_subnets": False,
    }
    if mtls is not None:
        args["mtls"] = mtls
    return args


def test_a_source_that_enforces_mtls_without_certificates_fails_naming_the_variables(aws, api_calls, capsys):
    _vpc, subnets = make_subnets()
    source_id = create_cluster(subnets, name="primary", tags={MTLS_TAG: "client-and-server"})["ClusterId"]
    del api_calls[:]
    result = run_module(cloudhsm_dr_preflight.main, settings({"configured": False}), capsys=capsys)
    assert result["failed"]
    assert len(result["problems"]) == 1
    problem = result["problems"][0]
    assert "Mutual TLS (mTLS) is enforced on cloudhsm_dr_source primary (%s)" % source_id in problem
    for words in ("cloudhsm_dr_mtls is not set", "trust_anchors", "certificate_src", "private_key",
                  "cloudhsm_dr_mtls.clusters"):
        assert words in problem
    assert "nothing was changed" in result["msg"]
    assert mutating(api_calls) == [] and api_calls


def test_no_enforcing_tag_or_no_mtls_option_means_no_problem(aws, capsys):
    _vpc, subnets = make_subnets()
    create_cluster(subnets, name="primary", tags={MTLS_TAG: "none"})
    assert run_module(cloudhsm_dr_preflight.main, settings({"configured": False}), capsys=capsys)["problems"] == []
    create_cluster(make_subnets("us-west-2")[1], name="dr-clone", region="us-west-2",
                   tags={MTLS_TAG: "client-and-server"})
    # copy_backups and teardown do not pass mtls: they never connect to an HSM.
    assert run_module(cloudhsm_dr_preflight.main, settings(), capsys=capsys)["problems"] == []
    failed = run_module(cloudhsm_dr_preflight.main, settings({"configured": False}), capsys=capsys)
    assert "cloudhsm_dr_clones[0] dr-clone" in failed["problems"][0]


def test_mtls_settings_need_a_certificate_for_every_cluster_and_sdk5(aws, capsys):
    both = {"configured": True, "certified": ["primary", "dr-clone"]}
    assert run_module(cloudhsm_dr_preflight.main, settings(both), capsys=capsys)["problems"] == []
    result = run_module(cloudhsm_dr_preflight.main, settings({"configured": True, "certified": ["primary"]}),
                        capsys=capsys)
    assert result["problems"] == [
        "cloudhsm_dr_mtls (mutual TLS) gives no client certificate and key for dr-clone: set certificate (or "
        "certificate_src) and private_key (or private_key_src) in cloudhsm_dr_mtls, or an entry with that name under "
        "cloudhsm_dr_mtls.clusters."]
    sdk3 = run_module(cloudhsm_dr_preflight.main, dict(settings(both, sdk=3), hsm_type="hsm1.medium"), capsys=capsys)
    assert sdk3["problems"] == ["cloudhsm_dr_mtls (mutual TLS) needs cloudhsm_dr_sdk: 5 (hsm2m.medium clusters); SDK 3 "
                                "has no client certificates."]
