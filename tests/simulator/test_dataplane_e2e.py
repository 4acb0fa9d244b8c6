"""Acceptance: the seed DR procedure by hand, with the emulated tools against a running ``cloudhsm-sim serve``.

activate -> a CO and a CU -> a non-extractable AES-256 key -> backup -> copy to another region -> clone cluster ->
sync a user and a key to the clone -> the same key on both; the same sync to an unrelated cluster fails with the
masking-key error. Once with SDK 3 (hsm1.medium, CMU/KMU) and once with SDK 5 (hsm2m.medium, cloudhsm-cli).
"""

import json
import os
import re
import time

from cloudhsm_sim.dataplane.testing import run_tool, tool_root

ADMIN_PASSWORD = "Admin-Pass123"
CU_PASSWORD = "Crypto-Pass123"


def wait_for(check, timeout=15):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            assert value, "condition not reached in %ss" % timeout
            return value
        time.sleep(0.05)


def describe(client, cluster_id):
    return client.describe_clusters(Filters={"clusterIds": [cluster_id]})["Clusters"][0]


def add_hsm(sim, client, cluster_id, availability_zone):
    hsm = client.create_hsm(ClusterId=cluster_id, AvailabilityZone=availability_zone)["Hsm"]
    wait_for(
        lambda: any(h["HsmId"] == hsm["HsmId"] and h["State"] == "ACTIVE" for h in describe(client, cluster_id)["Hsms"])
    )
    return hsm["EniIp"]


def initialized_cluster(sim, ca, region, hsm_type):
    """A cluster with one ACTIVE HSM, initialized with the test CA, not yet activated. Returns (id, ip, subnets)."""
    client = sim.client(region)
    cluster, subnets = sim.create_cluster(
        region, HsmType=hsm_type, **({"Mode": "FIPS"} if hsm_type != "hsm1.medium" else {})
    )
    cluster_id = cluster["ClusterId"]
    ip = add_hsm(sim, client, cluster_id, subnets[0]["AvailabilityZone"])
    csr = describe(client, cluster_id)["Certificates"]["ClusterCsr"]
    client.initialize_cluster(ClusterId=cluster_id, SignedCert=ca.sign(csr), TrustAnchor=ca.pem)
    sim.wait_cluster(client, cluster_id, "INITIALIZED")
    return cluster_id, ip, subnets


def clone_to(sim, source_region, source_cluster_id, second_az, region, hsm_type):
    """Add an HSM (which takes a backup), copy that backup to ``region``, build a cluster from it with one HSM."""
    source = sim.client(source_region)
    before = {b["BackupId"] for b in source.describe_backups(Filters={"clusterIds": [source_cluster_id]})["Backups"]}
    add_hsm(sim, source, source_cluster_id, second_az)
    backups = source.describe_backups(Filters={"clusterIds": [source_cluster_id]})["Backups"]
    backup_id = next(b["BackupId"] for b in backups if b["BackupId"] not in before)
    wait_for(
        lambda: source.describe_backups(Filters={"backupIds": [backup_id]})["Backups"][0]["BackupState"] == "READY"
    )
    source.copy_backup_to_region(DestinationRegion=region, BackupId=backup_id)
    dest = sim.client(region)
    copy = wait_for(
        lambda: [
            b
            for b in dest.describe_backups(Filters={"sourceBackupIds": [backup_id]})["Backups"]
            if b["BackupState"] == "READY"
        ]
    )[0]
    subnets = sim.subnets(region)
    clone = dest.create_cluster(
        HsmType=hsm_type, SourceBackupId=copy["BackupId"], SubnetIds=[s["SubnetId"] for s in subnets]
    )["Cluster"]
    wait_for(lambda: describe(dest, clone["ClusterId"])["State"] in ("UNINITIALIZED", "ACTIVE"))
    ip = add_hsm(sim, dest, clone["ClusterId"], subnets[0]["AvailabilityZone"])
    return clone["ClusterId"], ip


def tools(sdk, tmp_path, sim, ca, name):
    root = tool_root(sdk, str(tmp_path / name), sim.endpoint)
    with open(os.path.join(root, "etc", "customerCA.crt"), "w") as handle:
        handle.write(ca.pem)
    return root


def test_sdk5_seed_procedure(sim, ca, tmp_path):
    cluster_a, ip_a, subnets_a = initialized_cluster(sim, ca, "us-east-1", "hsm2m.medium")
    root = tools("5", tmp_path, sim, ca, "sdk5")

    def cli(*args, stdin="", **env):
        result = run_tool(root, "cloudhsm-cli", args, stdin=stdin, env=env, endpoint=sim.endpoint)
        return json.loads(result.stdout)

    admin = {"CLOUDHSM_ROLE": "admin", "CLOUDHSM_PIN": "admin:" + ADMIN_PASSWORD}
    assert run_tool(root, "configure-cli", ["-a", ip_a], endpoint=sim.endpoint).returncode == 0
    assert cli("cluster", "activate", "--password", ADMIN_PASSWORD) == {
        "error_code": 0,
        "data": "Cluster activation successful",
    }
    assert describe(sim.client("us-east-1"), cluster_a)["State"] == "ACTIVE"
    assert (
        cli("user", "create", "--username", "officer1", "--role", "admin", "--password", ADMIN_PASSWORD, **admin)[
            "error_code"
        ]
        == 0
    )
    assert (
        cli("user", "create", "--username", "cu1", "--role", "crypto-user", "--password", CU_PASSWORD, **admin)[
            "error_code"
        ]
        == 0
    )
    cu1 = {"CLOUDHSM_ROLE": "crypto-user", "CLOUDHSM_PIN": "cu1:" + CU_PASSWORD}
    key = cli(
        "key",
        "generate-symmetric",
        "aes",
        "--label",
        "dr-key",
        "--key-length-bytes",
        "32",
        "--attributes",
        "extractable=false",
        **cu1
    )["data"]["key"]
    assert key["attributes"]["extractable"] is False and key["attributes"]["key-length-bytes"] == 32

    cluster_b, ip_b = clone_to(
        sim, "us-east-1", cluster_a, subnets_a[1]["AvailabilityZone"], "us-west-2", "hsm2m.medium"
    )
    unrelated, ip_c, unused_subnets = initialized_cluster(sim, ca, "us-east-1", "hsm2m.medium")
    configure = ["--cluster-id", cluster_a, "--region", "us-east-1"]
    assert run_tool(root, "configure-cli", configure, endpoint=sim.endpoint).returncode == 0
    for cluster_id, region in ((cluster_b, "us-west-2"), (unrelated, "us-east-1")):
        added = run_tool(
            root,
            "configure-cli",
            ["add-cluster", "--cluster-id", cluster_id, "--region", region],
            endpoint=sim.endpoint,
        )
        assert added.returncode == 0, added.stderr
    assert cli("cluster", "activate", "--cluster-id", unrelated, "--password", ADMIN_PASSWORD)["error_code"] == 0

    # The clone came from a backup taken after the key existed: it holds the same key, owner and all.
    listed = {}
    for cluster_id in (cluster_a, cluster_b):
        found = cli("key", "list", "--cluster-id", cluster_id, "--filter", "attr.label=dr-key", "--verbose", **cu1)
        listed[cluster_id] = found["data"]["matched_keys"]
    assert listed[cluster_a] == listed[cluster_b] and len(listed[cluster_a]) == 1

    # A user and a key made after the backup reach the clone by replication.
    assert (
        cli(
            "user",
            "create",
            "--cluster-id",
            cluster_a,
            "--username",
            "cu2",
            "--role",
            "crypto-user",
            "--password",
            CU_PASSWORD,
            **admin
        )["error_code"]
        == 0
    )
    both_admins = dict(admin, DESTINATION_CLOUDHSM_ROLE="admin", DESTINATION_CLOUDHSM_PIN="admin:" + ADMIN_PASSWORD)
    replicated_user = cli(
        "user",
        "replicate",
        "--username",
        "cu2",
        "--role",
        "crypto-user",
        "--source-cluster-id",
        cluster_a,
        "--destination-cluster-id",
        cluster_b,
        **both_admins
    )
    assert replicated_user["data"]["message"] == "Successfully replicated user"
    cu2 = {
        "CLOUDHSM_ROLE": "crypto-user",
        "CLOUDHSM_PIN": "cu2:" + CU_PASSWORD,
        "DESTINATION_CLOUDHSM_ROLE": "crypto-user",
        "DESTINATION_CLOUDHSM_PIN": "cu2:" + CU_PASSWORD,
    }
    made = cli(
        "key",
        "generate-symmetric",
        "aes",
        "--cluster-id",
        cluster_a,
        "--label",
        "after-backup",
        "--key-length-bytes",
        "32",
        "--attributes",
        "extractable=false",
        **cu2
    )["data"]["key"]
    replicated = cli(
        "key",
        "replicate",
        "--filter",
        "attr.label=after-backup",
        "--source-cluster-id",
        cluster_a,
        "--destination-cluster-id",
        cluster_b,
        **cu2
    )
    assert replicated["data"]["message"] == "Successfully replicated key"
    on_both = [
        cli("key", "list", "--cluster-id", cluster_id, "--filter", "attr.label=after-backup", "--verbose", **cu2)[
            "data"
        ]["matched_keys"]
        for cluster_id in (cluster_a, cluster_b)
    ]
    assert on_both[0] == on_both[1] and len(on_both[0]) == 1
    assert on_both[1][0]["attributes"]["check-value"] == made["attributes"]["check-value"]
    assert (
        cli(
            "key",
            "replicate",
            "--filter",
            "attr.label=after-backup",
            "--source-cluster-id",
            cluster_a,
            "--destination-cluster-id",
            cluster_b,
            **cu2
        )["data"]
        == "Key replicate failed on 1 of 1 connections"
    )

    # An unrelated cluster has its own masking key: neither the user nor the key can go there.
    refused_user = cli(
        "user",
        "replicate",
        "--username",
        "cu2",
        "--role",
        "crypto-user",
        "--source-cluster-id",
        cluster_a,
        "--destination-cluster-id",
        unrelated,
        **both_admins
    )
    assert refused_user["error_code"] == 1 and "masking key" in refused_user["data"]
    assert (
        cli(
            "user",
            "create",
            "--cluster-id",
            unrelated,
            "--username",
            "cu2",
            "--role",
            "crypto-user",
            "--password",
            CU_PASSWORD,
            **admin
        )["error_code"]
        == 0
    )
    refused_key = cli(
        "key",
        "replicate",
        "--filter",
        "attr.label=after-backup",
        "--source-cluster-id",
        cluster_a,
        "--destination-cluster-id",
        unrelated,
        **cu2
    )
    assert refused_key["error_code"] == 1 and "masking key" in refused_key["data"]
    assert cli("key", "list", "--cluster-id", unrelated, **cu2)["data"]["total_key_count"] == 0


def test_sdk3_seed_procedure(sim, ca, tmp_path):
    cluster_a, ip_a, subnets_a = initialized_cluster(sim, ca, "us-east-1", "hsm1.medium")
    root = tools("3", tmp_path, sim, ca, "sdk3")
    etc = os.path.join(root, "etc")

    def cmu(config, *lines):
        result = run_tool(
            root, "cloudhsm_mgmt_util", [config], stdin="".join(line + "\n" for line in lines), endpoint=sim.endpoint
        )
        assert result.returncode == 0, result.stdout
        return re.split(r"aws-cloudhsm> |server \d+> ", result.stdout)[1:]

    def kmu(*lines):
        result = run_tool(root, "key_mgmt_util", stdin="".join(line + "\n" for line in lines), endpoint=sim.endpoint)
        return result.stdout.split("Command:  ")[1:]

    assert run_tool(root, "configure", ["-a", ip_a], endpoint=sim.endpoint).returncode == 0
    cmu_a = os.path.join(etc, "cloudhsm_mgmt_util.cfg")
    out = cmu(
        cmu_a,
        "loginHSM PRECO admin password",
        "changePswd PRECO admin " + ADMIN_PASSWORD,
        "y",
        "loginHSM CO admin " + ADMIN_PASSWORD,
        "createUser CO officer1 " + ADMIN_PASSWORD,
        "y",
        "createUser CU cu1 " + CU_PASSWORD,
        "y",
        "listUsers",
        "quit",
    )
    assert "changePswd success on server 0(%s)" % ip_a in out[1]
    assert describe(sim.client("us-east-1"), cluster_a)["State"] == "ACTIVE"
    assert re.search(r"\n         3              CO              officer1 ", out[5])
    assert re.search(r"\n         4              CU              cu1 ", out[5])
    generated = kmu("loginHSM -u CU -s cu1 -p " + CU_PASSWORD, "genSymKey -t 31 -s 32 -l aes256 -nex", "exit")
    handle = int(re.search(r"Key Handle: (\d+)", generated[1]).group(1))

    cluster_b, ip_b = clone_to(
        sim, "us-east-1", cluster_a, subnets_a[1]["AvailabilityZone"], "us-west-2", "hsm1.medium"
    )
    unrelated, ip_c, unused_subnets = initialized_cluster(sim, ca, "us-east-1", "hsm1.medium")
    unrelated_cfg = os.path.join(etc, "unrelated.cfg")
    with open(cmu_a) as handle_a:
        config = json.load(handle_a)
    config["servers"] = [dict(config["servers"][0], hostname=ip_c, name=ip_c)]
    json.dump(config, open(unrelated_cfg, "w"))
    cmu(
        unrelated_cfg,
        "loginHSM PRECO admin password",
        "changePswd PRECO admin " + ADMIN_PASSWORD,
        "y",
        "loginHSM CO admin " + ADMIN_PASSWORD,
        "createUser CU cu2 " + CU_PASSWORD,
        "y",
        "quit",
    )

    # A user made after the backup, then its key: both go to the clone through SyncClusters.cfg (A = 0, B = 1).
    cmu(cmu_a, "loginHSM CO admin " + ADMIN_PASSWORD, "createUser CU cu2 " + CU_PASSWORD, "y", "quit")
    kmu_out = kmu("loginHSM -u CU -s cu2 -p " + CU_PASSWORD, "genSymKey -t 31 -s 32 -l later -nex", "exit")
    later = int(re.search(r"Key Handle: (\d+)", kmu_out[1]).group(1))
    sync_cfg = os.path.join(etc, "SyncClusters.cfg")
    config["servers"] = [dict(config["servers"][0], hostname=ip, name=ip) for ip in (ip_a, ip_b)]
    json.dump(config, open(sync_cfg, "w"))
    out = cmu(
        sync_cfg,
        "loginHSM CO admin " + ADMIN_PASSWORD,
        "listUsers",
        "server 0",
        "syncUser 5 1",
        "exit",
        "logoutHSM",
        "loginHSM CU cu2 " + CU_PASSWORD,
        "server 0",
        "syncKey %d 1" % later,
        "exit",
        "getKeyInfo -k %d" % later,
        "getKeyInfo -k %d" % handle,
        "quit",
    )
    assert "loginHSM success on server 1(%s)" % ip_b in out[0]
    assert out[3] == "ExtractMaskedObject: 0x0 !\nInsertMaskedObject: 0x0 !\nsyncUser success\n"
    assert "loginHSM success on server 0(%s)\nloginHSM success on server 1(%s)" % (ip_a, ip_b) in out[6]
    assert out[8] == "syncKey success\n"
    for key_info in (out[10], out[11]):  # the same key, same owner, on both clusters
        first, second = key_info.split("Key Info on server 1")
        assert first.split(":", 1)[1] == second.split(":", 1)[1]
        assert "Owned by user" in first

    # The unrelated cluster does not share the masking key.
    mixed_cfg = os.path.join(etc, "Mixed.cfg")
    config["servers"] = [dict(config["servers"][0], hostname=ip, name=ip) for ip in (ip_a, ip_c)]
    json.dump(config, open(mixed_cfg, "w"))
    out = cmu(
        mixed_cfg,
        "loginHSM CU cu2 " + CU_PASSWORD,
        "server 0",
        "syncKey %d 1" % later,
        "exit",
        "getKeyInfo -k %d" % later,
        "quit",
    )
    assert out[2] == (
        "syncKey failed: HSM Error: Masked object could not be unmasked: the clusters do not share a " "masking key\n"
    )
    assert "getKeyInfo failed on server 1(%s)" % ip_c in out[4]


def test_hsm_state_survives_a_restart_with_state_dir(ca, tmp_path):
    from conftest import Simulator, start_server, stop_server

    state_dir = str(tmp_path / "state")
    process, endpoint = start_server("--state-dir", state_dir)
    try:
        sim = Simulator(endpoint)
        cluster_id, ip, unused_subnets = initialized_cluster(sim, ca, "us-east-1", "hsm2m.medium")
        root = tool_root("5", str(tmp_path / "sdk5"), endpoint)
        run_tool(root, "configure-cli", ["-a", ip], endpoint=endpoint)
        run_tool(root, "cloudhsm-cli", ["cluster", "activate", "--password", ADMIN_PASSWORD], endpoint=endpoint)
        created = run_tool(
            root,
            "cloudhsm-cli",
            ["user", "create", "--username", "kept", "--role", "crypto-user", "--password", CU_PASSWORD],
            env={"CLOUDHSM_ROLE": "admin", "CLOUDHSM_PIN": "admin:" + ADMIN_PASSWORD},
            endpoint=endpoint,
        )
        assert json.loads(created.stdout)["error_code"] == 0
    finally:
        assert stop_server(process) == 0
    saved = json.load(open(os.path.join(state_dir, "dataplane.json")))
    assert "kept" in saved["clusters"][cluster_id]["users"] and CU_PASSWORD not in json.dumps(saved)
    process, endpoint = start_server("--state-dir", state_dir)
    try:
        listed = run_tool(root, "cloudhsm-cli", ["user", "list"], endpoint=endpoint)
        assert [u["username"] for u in json.loads(listed.stdout)["data"]["users"]] == ["admin", "app_user", "kept"]
    finally:
        stop_server(process)


def test_unresponsive_and_degraded_hsms(sim, ca, tmp_path):
    cluster_id, ip_a, subnets = initialized_cluster(sim, ca, "us-east-1", "hsm1.medium")
    root = tools("3", tmp_path, sim, ca, "sdk3")
    run_tool(root, "configure", ["-a", ip_a], endpoint=sim.endpoint)
    cfg = os.path.join(root, "etc", "cloudhsm_mgmt_util.cfg")
    run_tool(
        root,
        "cloudhsm_mgmt_util",
        [cfg],
        endpoint=sim.endpoint,
        stdin="loginHSM PRECO admin password\nchangePswd PRECO admin %s\ny\nquit\n" % ADMIN_PASSWORD,
    )
    client = sim.client("us-east-1")
    ip_b = add_hsm(sim, client, cluster_id, subnets[1]["AvailabilityZone"])
    assert run_tool(root, "configure", ["--cmu", ip_a], endpoint=sim.endpoint).returncode == 0
    sim.faults(unresponsive_ips=[ip_b])
    result = run_tool(
        root,
        "cloudhsm_mgmt_util",
        [cfg],
        endpoint=sim.endpoint,
        stdin="loginHSM CO admin %s\ncreateUser CU cu1 %s\ny\nI\nquit\n" % (ADMIN_PASSWORD, CU_PASSWORD),
    )
    assert "Connection to server '%s': hostname '%s', port 2225 failed." % (ip_b, ip_b) in result.stdout
    assert "loginHSM success on server 0(%s)\nloginHSM failed: HSM Error: Server is not reachable\n" % ip_a in (
        result.stdout
    )
    assert "creating user on server 1(%s) failed\n\nRetry/Ignore/Abort?(R/I/A):" % ip_b in result.stdout
    sim.admin_ok("DELETE", "/_sim/faults")
    hsm_b = next(h["HsmId"] for h in describe(client, cluster_id)["Hsms"] if h["EniIp"] == ip_b)
    sim.faults(degrade_hsms=[hsm_b])
    root5 = tools("5", tmp_path, sim, ca, "sdk5")
    run_tool(root5, "configure-cli", ["-a", ip_b], endpoint=sim.endpoint)
    degraded = run_tool(root5, "cloudhsm-cli", ["user", "list"], endpoint=sim.endpoint)
    assert json.loads(degraded.stdout) == {"error_code": 1, "data": "Unable to connect to the cluster"}
    run_tool(root5, "configure-cli", ["-a", ip_b, ip_a], endpoint=sim.endpoint)  # the healthy HSM answers instead
    users = json.loads(run_tool(root5, "cloudhsm-cli", ["user", "list"], endpoint=sim.endpoint).stdout)
    assert [u["username"] for u in users["data"]["users"]] == ["admin", "app_user", "cu1"]
