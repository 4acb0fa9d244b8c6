# -*- coding: utf-8 -*-

# Copyright: Contributors to the hsmops.cloudhsm collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

from ansible_collections.hsmops.cloudhsm.plugins.modules import cloudhsm_cluster
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.modules.cloudhsm_aws_fixtures import add_hsm
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.modules.cloudhsm_aws_fixtures import api_calls  # noqa: F401 pylint: disable=unused-import
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.modules.cloudhsm_aws_fixtures import aws  # noqa: F401 pylint: disable=unused-import
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.modules.cloudhsm_aws_fixtures import aws_env  # noqa: F401 pylint: disable=unused-import
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.modules.cloudhsm_aws_fixtures import client
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.modules.cloudhsm_aws_fixtures import create_cluster
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.modules.cloudhsm_aws_fixtures import describe_cluster
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.modules.cloudhsm_aws_fixtures import fast_waits  # noqa: F401 pylint: disable=unused-import
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.modules.cloudhsm_aws_fixtures import initialized_cluster
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.modules.cloudhsm_aws_fixtures import make_subnets
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.modules.cloudhsm_aws_fixtures import mutating
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.modules.cloudhsm_aws_fixtures import restored_uninitialized  # noqa: F401 pylint: disable=unused-import
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.modules.cloudhsm_aws_fixtures import run_module
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.modules.cloudhsm_aws_fixtures import sign_csr


def run(args, capsys, **kwargs):
    return run_module(cloudhsm_cluster.main, args, capsys=capsys, **kwargs)


def test_create_waits_for_uninitialized_and_rerun_is_no_change(aws, capsys, api_calls, fast_waits):
    _vpc, subnets = make_subnets()
    args = {"name": "primary", "mode": "FIPS", "subnet_ids": subnets, "backup_retention_days": 30, "tags": {"Team": "sec"}}
    first = run(args, capsys)
    assert first["changed"] is True
    cluster = first["cluster"]
    assert cluster["state"] == "UNINITIALIZED"
    assert cluster["hsm_type"] == "hsm2m.medium"
    assert cluster["mode"] == "FIPS"
    assert cluster["tags"] == {"Name": "primary", "Team": "sec"}
    assert cluster["backup_retention_policy"] == {"type": "DAYS", "value": "30"}
    assert fast_waits and fast_waits[0] == 1.0  # the first poll comes after a second
    del api_calls[:]
    second = run(args, capsys)
    assert second["changed"] is False
    assert second["cluster"]["cluster_id"] == cluster["cluster_id"]
    assert mutating(api_calls) == []
    assert [name for _region, name in api_calls] == ["DescribeClusters"]


def test_check_mode_create_makes_no_mutating_call(aws, capsys, api_calls):
    _vpc, subnets = make_subnets()
    result = run({"name": "primary", "mode": "FIPS", "subnet_ids": subnets}, capsys, check_mode=True)
    assert result["changed"] is True
    assert result["cluster"]["state"] == "CREATE_IN_PROGRESS"
    assert "cluster_id" not in result["cluster"]
    assert mutating(api_calls) == []
    assert client("cloudhsmv2").describe_clusters()["Clusters"] == []


def test_mode_is_required_for_hsm2m(aws, capsys):
    _vpc, subnets = make_subnets()
    result = run({"name": "primary", "subnet_ids": subnets}, capsys)
    assert result["failed"] is True
    assert "mode (FIPS or NON_FIPS) is required" in result["msg"]
    assert client("cloudhsmv2").describe_clusters()["Clusters"] == []


def test_hsm1_needs_no_mode(aws, capsys):
    _vpc, subnets = make_subnets()
    result = run({"name": "legacy", "hsm_type": "hsm1.medium", "subnet_ids": subnets}, capsys)
    assert result["changed"] is True
    assert result["cluster"]["hsm_type"] == "hsm1.medium"


def test_retention_out_of_range_is_refused(aws, capsys):
    _vpc, subnets = make_subnets()
    result = run({"name": "p", "mode": "FIPS", "subnet_ids": subnets, "backup_retention_days": 5}, capsys)
    assert result["failed"] is True
    assert "7 to 379" in result["msg"]


def test_two_clusters_with_one_name_is_an_error_listing_them(aws, capsys):
    _vpc, subnets = make_subnets()
    one = create_cluster(subnets, name="twin")["ClusterId"]
    two = create_cluster(subnets, name="twin")["ClusterId"]
    result = run({"name": "twin", "mode": "FIPS", "subnet_ids": subnets}, capsys)
    assert result["failed"] is True
    assert one in result["msg"] and two in result["msg"]
    assert len(client("cloudhsmv2").describe_clusters()["Clusters"]) == 2


def test_unknown_cluster_id_for_present_fails(aws, capsys):
    result = run({"cluster_id": "cluster-abcdefghijk", "mode": "FIPS"}, capsys)
    assert result["failed"] is True
    assert "cluster-abcdefghijk does not exist" in result["msg"]


def test_retention_and_tags_change_in_place_with_diff(aws, capsys, api_calls):
    _vpc, subnets = make_subnets()
    cluster_id = create_cluster(subnets, name="primary", tags={"Old": "x"})["ClusterId"]
    del api_calls[:]
    result = run({"cluster_id": cluster_id, "backup_retention_days": 45, "tags": {"New": "y"}}, capsys, diff=True)
    assert result["changed"] is True
    assert result["diff"]["before"]["backup_retention_days"] == 90
    assert result["diff"]["after"]["backup_retention_days"] == 45
    assert result["diff"]["after"]["tags"] == {"New": "y"}
    assert result["cluster"]["tags"] == {"New": "y"}
    actual = describe_cluster(cluster_id)
    assert actual["BackupRetentionPolicy"]["Value"] == "45"
    assert {tag["Key"]: tag["Value"] for tag in actual["TagList"]} == {"New": "y"}
    assert sorted(name for _r, name in mutating(api_calls)) == ["ModifyCluster", "TagResource", "UntagResource"]


def test_name_only_keeps_other_tags(aws, capsys):
    _vpc, subnets = make_subnets()
    cluster_id = create_cluster(subnets, tags={"Keep": "me"})["ClusterId"]
    result = run({"cluster_id": cluster_id, "name": "named"}, capsys)
    assert result["changed"] is True
    assert result["cluster"]["tags"] == {"Keep": "me", "Name": "named"}


def test_check_mode_modify_changes_nothing(aws, capsys, api_calls):
    _vpc, subnets = make_subnets()
    cluster_id = create_cluster(subnets, name="primary")["ClusterId"]
    del api_calls[:]
    result = run({"cluster_id": cluster_id, "backup_retention_days": 45, "tags": {"New": "y"}}, capsys, check_mode=True)
    assert result["changed"] is True
    assert mutating(api_calls) == []
    assert describe_cluster(cluster_id)["BackupRetentionPolicy"]["Value"] == "90"


def test_refuses_mode_and_subnet_changes_naming_the_option(aws, capsys, api_calls):
    _vpc, subnets = make_subnets()
    cluster_id = create_cluster(subnets, name="primary")["ClusterId"]
    del api_calls[:]
    result = run({"cluster_id": cluster_id, "mode": "NON_FIPS"}, capsys)
    assert result["failed"] is True
    assert result["msg"].startswith("mode: cluster %s is FIPS" % cluster_id)
    result = run({"cluster_id": cluster_id, "subnet_ids": subnets[:1]}, capsys)
    assert result["failed"] is True
    assert result["msg"].startswith("subnet_ids: cluster %s uses subnets" % cluster_id)
    assert mutating(api_calls) == []


def test_hsm_type_change_needs_an_active_cluster(aws, capsys):
    _vpc, subnets = make_subnets()
    cluster_id = create_cluster(subnets, name="primary", HsmType="hsm1.medium")["ClusterId"]
    result = run({"cluster_id": cluster_id, "hsm_type": "hsm2m.medium"}, capsys)
    assert result["failed"] is True
    assert "while it is ACTIVE" in result["msg"] and "UNINITIALIZED" in result["msg"]


def test_hsm_type_change_in_place_waits_for_active(aws, capsys):
    _vpc, subnets = make_subnets()
    cluster_id = create_cluster(subnets, name="primary", HsmType="hsm1.medium")["ClusterId"]
    add_hsm(cluster_id, sorted(describe_cluster(cluster_id)["SubnetMapping"])[0])
    csr = describe_cluster(cluster_id)["Certificates"]["ClusterCsr"]
    signed, anchor = sign_csr(csr)
    client("cloudhsmv2").initialize_cluster(ClusterId=cluster_id, SignedCert=signed, TrustAnchor=anchor)
    describe_cluster(cluster_id)
    aws.activate_cluster(cluster_id)
    result = run({"cluster_id": cluster_id, "hsm_type": "hsm2m.medium"}, capsys, diff=True)
    assert result["changed"] is True
    assert result["cluster"]["hsm_type"] == "hsm2m.medium"
    assert result["cluster"]["state"] == "ACTIVE"
    assert result["diff"]["before"]["hsm_type"] == "hsm1.medium"


def test_initialize_with_pem_files_then_same_cert_is_no_change(aws, capsys, tmp_path, api_calls):
    _vpc, subnets = make_subnets()
    cluster_id = create_cluster(subnets, name="primary")["ClusterId"]
    no_csr = run({"cluster_id": cluster_id, "signed_cert": "-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----",
                  "trust_anchor": "-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----"}, capsys)
    assert no_csr["failed"] is True
    assert "has no CSR yet" in no_csr["msg"] and "cloudhsm_hsm" in no_csr["msg"]

    add_hsm(cluster_id, sorted(describe_cluster(cluster_id)["SubnetMapping"])[0])
    shown = run({"cluster_id": cluster_id}, capsys)["cluster"]
    csr = shown["certificates"]["cluster_csr"]
    assert csr.startswith("-----BEGIN CERTIFICATE REQUEST-----")
    signed, anchor = sign_csr(csr)
    (tmp_path / "cluster.crt").write_text(signed)
    (tmp_path / "ca.crt").write_text(anchor)
    args = {"cluster_id": cluster_id, "signed_cert": str(tmp_path / "cluster.crt"), "trust_anchor": str(tmp_path / "ca.crt")}
    result = run(args, capsys)
    assert result["changed"] is True
    assert result["cluster"]["state"] == "INITIALIZED"
    del api_calls[:]
    again = run(args, capsys)
    assert again["changed"] is False
    assert mutating(api_calls) == []


def test_initialized_with_another_cert_is_an_error(aws, capsys):
    _vpc, subnets = make_subnets()
    cluster_id = initialized_cluster(subnets, activate=False)
    other, anchor = sign_csr(_a_csr())
    result = run({"cluster_id": cluster_id, "signed_cert": other, "trust_anchor": anchor}, capsys)
    assert result["failed"] is True
    assert "already initialized (state INITIALIZED) with a different cluster certificate" in result["msg"]


def test_bad_certificate_is_reported_and_cluster_stays_uninitialized(aws, capsys):
    _vpc, subnets = make_subnets()
    cluster_id = create_cluster(subnets, name="primary")["ClusterId"]
    add_hsm(cluster_id, sorted(describe_cluster(cluster_id)["SubnetMapping"])[0])
    describe_cluster(cluster_id)
    wrong, anchor = sign_csr(_a_csr())
    result = run({"cluster_id": cluster_id, "signed_cert": wrong, "trust_anchor": anchor}, capsys)
    assert result["failed"] is True
    assert "refused the certificates" in result["msg"]
    assert describe_cluster(cluster_id)["State"] == "UNINITIALIZED"


def test_missing_pem_file_is_a_clear_error(aws, capsys, tmp_path):
    _vpc, subnets = make_subnets()
    cluster_id = create_cluster(subnets, name="primary")["ClusterId"]
    result = run({"cluster_id": cluster_id, "signed_cert": str(tmp_path / "nope.crt"), "trust_anchor": str(tmp_path / "ca.crt")},
                 capsys)
    assert result["failed"] is True
    assert "signed_cert is neither PEM text" in result["msg"]


def test_clone_from_backup_takes_mode_and_type_from_the_backup(aws, capsys):
    _vpc, subnets = make_subnets()
    source_id = initialized_cluster(subnets)
    backup = client("cloudhsmv2").describe_backups(Filters={"clusterIds": [source_id]})["Backups"][0]
    result = run({"name": "clone", "subnet_ids": subnets, "source_backup_id": backup["BackupArn"]}, capsys)
    assert result["changed"] is True
    clone = result["cluster"]
    assert clone["source_backup_id"] == backup["BackupId"] or clone["source_backup_id"] == backup["BackupArn"]
    assert clone["mode"] == "FIPS"
    assert clone["state"] == "ACTIVE" and clone["hsms"] == []  # as AWS makes a cluster from a backup
    assert "cluster_certificate" in clone["certificates"]
    again = run({"name": "clone", "subnet_ids": subnets, "source_backup_id": backup["BackupId"]}, capsys)
    assert again["changed"] is False


def test_clone_reporting_uninitialized_is_accepted_and_never_initialized(restored_uninitialized, capsys, api_calls):
    """The older shape: a cluster from a backup that is UNINITIALIZED until its first HSM."""
    _vpc, subnets = make_subnets()
    source_id = initialized_cluster(subnets)
    backup = client("cloudhsmv2").describe_backups(Filters={"clusterIds": [source_id]})["Backups"][0]
    args = {"name": "clone", "subnet_ids": subnets, "source_backup_id": backup["BackupId"]}
    result = run(args, capsys, diff=True)
    assert result["changed"] is True
    assert result["cluster"]["state"] == "UNINITIALIZED"
    assert result["diff"]["after"]["initialized"] is True  # it carries its source's certificate
    # Its source's certificate is the one it has: passing it again changes nothing and initializes nothing.
    source_cert = describe_cluster(source_id)["Certificates"]["ClusterCertificate"]
    del api_calls[:]
    again = run(dict(args, signed_cert=source_cert, trust_anchor=source_cert), capsys)
    assert again["changed"] is False and "failed" not in again
    assert mutating(api_calls) == []


def test_clone_mode_mismatch_and_unknown_backup(aws, capsys):
    _vpc, subnets = make_subnets()
    source_id = initialized_cluster(subnets)
    backup_id = client("cloudhsmv2").describe_backups(Filters={"clusterIds": [source_id]})["Backups"][0]["BackupId"]
    result = run({"name": "clone", "mode": "NON_FIPS", "subnet_ids": subnets, "source_backup_id": backup_id}, capsys)
    assert result["failed"] is True
    assert "does not match the source backup" in result["msg"]
    result = run({"name": "clone", "subnet_ids": subnets, "source_backup_id": "backup-abcdefghijk"}, capsys)
    assert result["failed"] is True
    assert "backup-abcdefghijk does not exist in us-east-1" in result["msg"]
    assert len(client("cloudhsmv2").describe_clusters()["Clusters"]) == 1


def test_absent_deletes_hsms_first_then_the_cluster(aws, capsys, api_calls):
    _vpc, subnets = make_subnets()
    cluster_id = initialized_cluster(subnets)
    add_hsm(cluster_id, sorted(describe_cluster(cluster_id)["SubnetMapping"])[1])
    del api_calls[:]
    result = run({"cluster_id": cluster_id, "state": "absent"}, capsys)
    assert result["changed"] is True
    assert result["cluster"] == {}
    names = [name for _r, name in mutating(api_calls)]
    assert names == ["DeleteHsm", "DeleteHsm", "DeleteCluster"]
    assert describe_cluster(cluster_id) is None or describe_cluster(cluster_id)["State"] == "DELETED"
    again = run({"cluster_id": cluster_id, "state": "absent"}, capsys)
    assert again["changed"] is False


def test_absent_in_check_mode_and_when_missing(aws, capsys, api_calls):
    _vpc, subnets = make_subnets()
    cluster_id = create_cluster(subnets, name="gone-soon")["ClusterId"]
    del api_calls[:]
    result = run({"name": "gone-soon", "state": "absent"}, capsys, check_mode=True)
    assert result["changed"] is True
    assert mutating(api_calls) == []
    assert describe_cluster(cluster_id)["State"] == "UNINITIALIZED"
    assert run({"name": "never-was", "state": "absent"}, capsys)["changed"] is False


def test_wait_timeout_names_resource_and_states(aws, capsys):
    aws.transitions.set_seconds({"cluster_create": 3600})
    _vpc, subnets = make_subnets()
    result = run({"name": "slow", "mode": "FIPS", "subnet_ids": subnets, "wait_timeout": 30}, capsys)
    assert result["failed"] is True
    assert "Timed out after 30s waiting for cluster cluster-" in result["msg"]
    assert "to reach UNINITIALIZED or INITIALIZED or ACTIVE; it is still in state CREATE_IN_PROGRESS" in result["msg"]
    # The cluster was created before the wait gave up: the failure says so and names it, for the rerun.
    assert result["changed"] is True
    assert result["msg"].split("waiting for cluster ")[1].startswith(result["cluster"]["cluster_id"])
    assert result["cluster"]["name"] == "slow"


def test_a_refusal_before_any_change_reports_unchanged(aws, capsys, api_calls):
    _vpc, subnets = make_subnets()
    create_cluster(subnets, name="fixed")
    del api_calls[:]
    result = run({"name": "fixed", "mode": "NON_FIPS"}, capsys)
    assert result["failed"] is True and result["changed"] is False
    assert result["cluster"]["name"] == "fixed" and mutating(api_calls) == []


def test_a_create_that_aws_refuses_reports_unchanged_and_names_the_operation(aws, capsys):
    result = run({"name": "nowhere", "mode": "FIPS", "subnet_ids": ["subnet-0123456789abcdef0"]}, capsys)
    assert result["failed"] is True and result["changed"] is False
    assert result["msg"].startswith("Failed to create the cluster (CreateCluster): ")
    assert result["cluster"] == {}


def test_no_wait_returns_the_in_progress_cluster(aws, capsys, api_calls):
    aws.transitions.set_seconds({"cluster_create": 3600})
    _vpc, subnets = make_subnets()
    result = run({"name": "fast", "mode": "FIPS", "subnet_ids": subnets, "wait": False}, capsys)
    assert result["changed"] is True
    assert result["cluster"]["state"] == "CREATE_IN_PROGRESS"
    assert [name for _r, name in api_calls] == ["DescribeClusters", "CreateCluster"]


def _a_csr():
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import Encoding
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    csr = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "someone else")])
    ).sign(key, hashes.SHA256())
    return csr.public_bytes(Encoding.PEM).decode()


def test_present_on_a_deleted_cluster_id_is_refused(aws, capsys):
    aws.transitions.set_seconds({"cluster_purge": 3600})
    _vpc, subnets = make_subnets()
    cluster_id = create_cluster(subnets, name="old")["ClusterId"]
    describe_cluster(cluster_id)
    client("cloudhsmv2").delete_cluster(ClusterId=cluster_id)
    describe_cluster(cluster_id)
    result = run({"cluster_id": cluster_id, "backup_retention_days": 10}, capsys)
    assert result["failed"] is True
    assert "Cluster %s is DELETED" % cluster_id in result["msg"]


def active_hsm1_cluster(aws, hsms=1):
    _vpc, subnets = make_subnets()
    cluster_id = create_cluster(subnets, name="legacy", HsmType="hsm1.medium")["ClusterId"]
    zones = sorted(describe_cluster(cluster_id)["SubnetMapping"])
    add_hsm(cluster_id, zones[0])
    signed, anchor = sign_csr(describe_cluster(cluster_id)["Certificates"]["ClusterCsr"])
    client("cloudhsmv2").initialize_cluster(ClusterId=cluster_id, SignedCert=signed, TrustAnchor=anchor)
    describe_cluster(cluster_id)
    aws.activate_cluster(cluster_id)
    for index in range(1, hsms):
        add_hsm(cluster_id, zones[index % len(zones)])
    describe_cluster(cluster_id)
    return cluster_id


def test_hsm_type_migration_check_mode_predicts_and_calls_nothing(aws, capsys, api_calls):
    cluster_id = active_hsm1_cluster(aws, hsms=2)
    del api_calls[:]
    result = run({"cluster_id": cluster_id, "hsm_type": "hsm2m.medium"}, capsys, check_mode=True, diff=True)
    assert result["changed"] is True
    assert mutating(api_calls) == []
    assert result["cluster"]["state"] == "MODIFY_IN_PROGRESS"
    change = result["hsm_type_change"]
    assert (change["from_type"], change["to_type"], change["rollback"]) == ("hsm1.medium", "hsm2m.medium", False)
    assert (change["hsms_total"], change["hsms_done"], change["expected_seconds_left"]) == (2, 0, 3600)
    assert change["rollback_expiration"].endswith("Z")
    assert result["diff"]["before"]["hsm_type"] == "hsm1.medium"
    assert result["diff"]["after"]["hsm_type"] == "hsm2m.medium"
    assert describe_cluster(cluster_id)["HsmType"] == "hsm1.medium"


def test_hsm_type_migration_without_wait_reports_progress_and_a_rerun_calls_nothing(aws, capsys, api_calls):
    cluster_id = active_hsm1_cluster(aws, hsms=2)
    aws.transitions.set_seconds({"cluster_modify": 60})
    del api_calls[:]
    started = run({"cluster_id": cluster_id, "hsm_type": "hsm2m.medium", "wait": False}, capsys)
    assert started["changed"] is True
    assert [name for _region, name in mutating(api_calls)] == ["ModifyCluster"]
    change = started["hsm_type_change"]
    assert change["state"] == "MODIFY_IN_PROGRESS" and change["hsms_done"] == 0 and change["hsms_total"] == 2
    deadline = started["cluster"]["hsm_type_rollback_expiration"]
    assert deadline and change["rollback_expiration"] == deadline
    del api_calls[:]
    rerun = run({"cluster_id": cluster_id, "hsm_type": "hsm2m.medium", "wait": False}, capsys)
    assert rerun["changed"] is False and mutating(api_calls) == []
    assert rerun["hsm_type_change"]["state"] == "MODIFY_IN_PROGRESS"  # still under way: progress shown
    # A rollback while the migration runs is refused before any call: the cluster is not ACTIVE.
    refused = run({"cluster_id": cluster_id, "hsm_type": "hsm1.medium", "wait": False}, capsys)
    assert refused["failed"] is True and "MODIFY_IN_PROGRESS" in refused["msg"] and mutating(api_calls) == []


def test_hsm_type_migration_waits_then_rollback_within_the_window(aws, capsys, api_calls):
    cluster_id = active_hsm1_cluster(aws)
    migrated = run({"cluster_id": cluster_id, "hsm_type": "hsm2m.medium"}, capsys)
    assert migrated["cluster"]["state"] == "ACTIVE" and migrated["cluster"]["hsm_type"] == "hsm2m.medium"
    assert migrated["hsm_type_change"]["hsms_done"] == 1
    assert {hsm["hsm_type"] for hsm in migrated["cluster"]["hsms"]} == {"hsm2m.medium"}
    del api_calls[:]
    again = run({"cluster_id": cluster_id, "hsm_type": "hsm2m.medium"}, capsys)
    assert again["changed"] is False and mutating(api_calls) == [] and "hsm_type_change" not in again
    rolled_back = run({"cluster_id": cluster_id, "hsm_type": "hsm1.medium"}, capsys)
    assert rolled_back["changed"] is True
    assert rolled_back["hsm_type_change"]["rollback"] is True
    assert rolled_back["hsm_type_change"]["rollback_expiration"] is None
    assert describe_cluster(cluster_id)["HsmType"] == "hsm1.medium"


def test_rollback_after_the_window_is_refused_naming_the_deadline(aws, capsys, api_calls):
    cluster_id = active_hsm1_cluster(aws)
    migrated = run({"cluster_id": cluster_id, "hsm_type": "hsm2m.medium"}, capsys)
    deadline = migrated["hsm_type_change"]["rollback_expiration"]
    aws.time_passes(cluster_id, 24 * 3600 + 1)
    del api_calls[:]
    for check_mode in (True, False):
        refused = run({"cluster_id": cluster_id, "hsm_type": "hsm1.medium"}, capsys, check_mode=check_mode)
        assert refused["failed"] is True
        assert "rollback window closed at" in refused["msg"] and "HsmTypeRollbackExpiration" in refused["msg"]
    closed_at = refused["msg"].split("closed at ")[1].split(" ")[0]
    assert closed_at < deadline  # the deadline moved a day back, and the message names where it is now
    assert mutating(api_calls) == []
    assert describe_cluster(cluster_id)["HsmType"] == "hsm2m.medium"


def test_hsm_type_change_refuses_other_directions(aws, capsys, api_calls):
    cluster_id = initialized_cluster(make_subnets()[1])  # hsm2m.medium from the start: nothing to roll back
    del api_calls[:]
    refused = run({"cluster_id": cluster_id, "hsm_type": "hsm1.medium"}, capsys)
    assert refused["failed"] is True and "no HsmTypeRollbackExpiration" in refused["msg"]
    assert mutating(api_calls) == []
