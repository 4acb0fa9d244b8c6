"""KMS custom key stores on simulated CloudHSM clusters, in decorator mode (moto's mock_aws in this process)."""

import time

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from moto import mock_aws

from cloudhsm_sim import controlplane, dataplane, kms
from cloudhsm_sim.controlplane import transitions

ACCOUNT = "123456789012"
KMSUSER_PASSWORD = "kmsPswd123"
ADMIN_PASSWORD = "adminPswd1"


class Lab:
    """Clusters made through the cloudhsmv2 API, HSM users through the data plane, stores through KMS."""

    def __init__(self, ca):
        self.ca = ca
        self._vpcs = 0

    def client(self, service, region="us-east-1"):
        return boto3.client(service, region_name=region)

    def subnets(self, region, count=2):
        ec2 = self.client("ec2", region)
        self._vpcs += 1
        vpc_id = ec2.create_vpc(CidrBlock="10.{0}.0.0/16".format(self._vpcs))["Vpc"]["VpcId"]
        zones = [z["ZoneName"] for z in ec2.describe_availability_zones()["AvailabilityZones"]][:count]
        return [ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.{0}.{1}.0/24".format(self._vpcs, i),
                                  AvailabilityZone=zone)["Subnet"] for i, zone in enumerate(zones)]

    def hsm(self, cluster_id, zone, region="us-east-1"):
        hsm = self.client("cloudhsmv2", region).create_hsm(ClusterId=cluster_id, AvailabilityZone=zone)["Hsm"]
        controlplane.advance()
        return hsm

    def call(self, op, **args):
        return dataplane.STATE.call(op, args)

    def admin_session(self, ip):
        return self.call("login", hsm=ip, role="CO", username="admin", password=ADMIN_PASSWORD)["session"]

    def active_cluster(self, region="us-east-1", hsms=2, kmsuser=True):
        """An ACTIVE cluster with ``hsms`` HSMs in different zones and (optionally) the kmsuser crypto user."""
        client = self.client("cloudhsmv2", region)
        subnets = self.subnets(region)
        cluster_id = client.create_cluster(HsmType="hsm2m.medium", Mode="FIPS",
                                           SubnetIds=[s["SubnetId"] for s in subnets])["Cluster"]["ClusterId"]
        controlplane.advance()
        first = self.hsm(cluster_id, subnets[0]["AvailabilityZone"], region)
        csr = controlplane.describe_cluster(cluster_id)["Certificates"]["ClusterCsr"]
        client.initialize_cluster(ClusterId=cluster_id, SignedCert=self.ca.sign(csr), TrustAnchor=self.ca.pem)
        controlplane.advance()
        self.call("activate", hsm=first["EniIp"], password=ADMIN_PASSWORD)
        assert controlplane.describe_cluster(cluster_id)["State"] == "ACTIVE"
        for subnet in subnets[1:hsms]:
            self.hsm(cluster_id, subnet["AvailabilityZone"], region)
        if kmsuser:
            self.add_kmsuser(first["EniIp"])
        return cluster_id, first["EniIp"], subnets

    def add_kmsuser(self, ip, password=KMSUSER_PASSWORD):
        self.call("create_user", hsm=ip, session=self.admin_session(ip), role="CU", username="kmsuser",
                  password=password)

    def restore(self, cluster_id, region="us-east-1", hsms=2):
        """A new cluster from the newest backup of ``cluster_id`` (same region), with ``hsms`` HSMs."""
        client = self.client("cloudhsmv2", region)
        backups = client.describe_backups(Filters={"clusterIds": [cluster_id], "states": ["READY"]},
                                          SortAscending=False)["Backups"]
        subnets = self.subnets(region)
        restored = client.create_cluster(HsmType="hsm2m.medium", SubnetIds=[s["SubnetId"] for s in subnets],
                                         SourceBackupId=backups[0]["BackupId"])["Cluster"]["ClusterId"]
        controlplane.advance()
        for subnet in subnets[:hsms]:
            self.hsm(restored, subnet["AvailabilityZone"], region)
        return restored

    def kms(self, region="us-east-1"):
        return self.client("kms", region)

    def store(self, cluster_id, name="primary-store", password=KMSUSER_PASSWORD, region="us-east-1"):
        return self.kms(region).create_custom_key_store(
            CustomKeyStoreName=name, CloudHsmClusterId=cluster_id, TrustAnchorCertificate=self.ca.pem,
            KeyStorePassword=password)["CustomKeyStoreId"]

    def describe(self, store_id, region="us-east-1"):
        return self.kms(region).describe_custom_key_stores(CustomKeyStoreId=store_id)["CustomKeyStores"][0]

    def connected(self, cluster_id, **kwargs):
        store_id = self.store(cluster_id, **kwargs)
        self.kms().connect_custom_key_store(CustomKeyStoreId=store_id)
        assert self.describe(store_id)["ConnectionState"] == "CONNECTED"
        return store_id


@pytest.fixture
def lab(ca):
    transitions.reset()
    kms.reset_delays()
    dataplane.subscribe()
    with mock_aws():
        controlplane.install()
        kms.install()
        kms.install()  # idempotent
        dataplane.reset()
        yield Lab(ca)
    kms.reset_delays()
    dataplane.reset()


def error_code(excinfo):
    return excinfo.value.response["Error"]["Code"]


def test_install_is_idempotent_and_marks_handlers(lab):
    assert kms.installed()
    from moto.kms.responses import KmsResponse

    assert KmsResponse.create_custom_key_store.cloudhsm_sim


def test_create_connect_and_key_lifecycle(lab):
    cluster_id, _ip, unused_backup = lab.active_cluster()
    client = lab.kms()
    store_id = lab.store(cluster_id)
    assert store_id.startswith("cks-") and len(store_id) == 21
    store = lab.describe(store_id)
    assert store["ConnectionState"] == "DISCONNECTED" and store["CloudHsmClusterId"] == cluster_id
    assert store["CustomKeyStoreType"] == "AWS_CLOUDHSM" and "ConnectionErrorCode" not in store
    assert store["TrustAnchorCertificate"] == lab.ca.pem
    # An identical request for a disconnected store is a retry: same id, no second store.
    assert lab.store(cluster_id) == store_id
    assert len(client.describe_custom_key_stores()["CustomKeyStores"]) == 1

    with pytest.raises(ClientError) as denied:
        client.create_key(Origin="AWS_CLOUDHSM", CustomKeyStoreId=store_id)
    assert error_code(denied) == "CustomKeyStoreInvalidStateException"

    client.connect_custom_key_store(CustomKeyStoreId=store_id)
    assert lab.describe(store_id)["ConnectionState"] == "CONNECTED"
    client.connect_custom_key_store(CustomKeyStoreId=store_id)  # connecting a connected store changes nothing

    key = client.create_key(Origin="AWS_CLOUDHSM", CustomKeyStoreId=store_id)["KeyMetadata"]
    assert key["Origin"] == "AWS_CLOUDHSM" and key["CustomKeyStoreId"] == store_id
    assert key["CloudHsmClusterId"] == cluster_id and key["KeyState"] == "Enabled"
    # KMS made a non-extractable AES-256 backing key owned by kmsuser, labelled with the key ARN.
    state = dataplane.STATE.clusters[cluster_id]
    backing = [k for k in state.keys.values() if k["label"] == key["Arn"]]
    assert len(backing) == 1 and backing[0]["size"] == 32 and backing[0]["attrs"]["extractable"] is False
    assert backing[0]["owner"] == state.users["kmsuser"]["id"]

    blob = client.encrypt(KeyId=key["KeyId"], Plaintext=b"secret")["CiphertextBlob"]
    assert client.decrypt(CiphertextBlob=blob)["Plaintext"] == b"secret"
    assert len(client.generate_random(NumberOfBytes=8, CustomKeyStoreId=store_id)["Plaintext"]) == 8

    client.update_custom_key_store(CustomKeyStoreId=store_id, NewCustomKeyStoreName="renamed")  # allowed CONNECTED
    with pytest.raises(ClientError) as connected_update:
        client.update_custom_key_store(CustomKeyStoreId=store_id, KeyStorePassword="another1")
    assert error_code(connected_update) == "CustomKeyStoreInvalidStateException"
    with pytest.raises(ClientError) as connected_delete:
        client.delete_custom_key_store(CustomKeyStoreId=store_id)
    assert error_code(connected_delete) == "CustomKeyStoreInvalidStateException"

    client.disconnect_custom_key_store(CustomKeyStoreId=store_id)
    assert lab.describe(store_id)["ConnectionState"] == "DISCONNECTED"
    assert client.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"] == "Unavailable"
    with pytest.raises(ClientError) as unavailable:
        client.encrypt(KeyId=key["KeyId"], Plaintext=b"x")
    assert error_code(unavailable) == "KMSInvalidStateException" and "is unavailable" in str(unavailable.value)
    with pytest.raises(ClientError) as unavailable_decrypt:
        client.decrypt(CiphertextBlob=blob)
    assert error_code(unavailable_decrypt) == "KMSInvalidStateException"
    with pytest.raises(ClientError) as twice:
        client.disconnect_custom_key_store(CustomKeyStoreId=store_id)
    assert error_code(twice) == "CustomKeyStoreInvalidStateException"

    with pytest.raises(ClientError) as has_keys:
        client.delete_custom_key_store(CustomKeyStoreId=store_id)
    assert error_code(has_keys) == "CustomKeyStoreHasCMKsException"
    # Scheduled deletion still counts until the key is gone.
    client.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    assert client.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"] == "PendingDeletion"
    with pytest.raises(ClientError):
        client.delete_custom_key_store(CustomKeyStoreId=store_id)
    from moto.kms.models import kms_backends

    kms_backends[ACCOUNT]["us-east-1"].delete_key(key["KeyId"])
    client.delete_custom_key_store(CustomKeyStoreId=store_id)
    with pytest.raises(ClientError) as gone:
        lab.describe(store_id)
    assert error_code(gone) == "CustomKeyStoreNotFoundException"


def test_connect_rotates_the_kmsuser_password(lab):
    cluster_id, ip, unused_backup = lab.active_cluster()
    store_id = lab.connected(cluster_id)
    # KMS changed the password to one only it knows: the old one no longer logs in.
    with pytest.raises(dataplane.HsmError) as login:
        lab.call("login", hsm=ip, role="CU", username="kmsuser", password=KMSUSER_PASSWORD)
    assert login.value.code == "login_failed"
    # ... and KMS still gets in after a disconnect and reconnect (it rotates again).
    client = lab.kms()
    client.disconnect_custom_key_store(CustomKeyStoreId=store_id)
    client.connect_custom_key_store(CustomKeyStoreId=store_id)
    assert lab.describe(store_id)["ConnectionState"] == "CONNECTED"


@pytest.mark.parametrize("problem, code", [
    ("missing", "USER_NOT_FOUND"),
    ("logged_in", "USER_LOGGED_IN"),
    ("wrong_password", "INVALID_CREDENTIALS"),
    ("locked", "USER_LOCKED_OUT"),
])
def test_connect_fails_with_the_documented_error_codes(lab, problem, code):
    cluster_id, ip, unused_backup = lab.active_cluster(kmsuser=problem != "missing")
    password = "notThePassword" if problem == "wrong_password" else KMSUSER_PASSWORD
    if problem == "logged_in":
        lab.call("login", hsm=ip, role="CU", username="kmsuser", password=KMSUSER_PASSWORD)
    if problem == "locked":
        for unused_attempt in range(5):
            with pytest.raises(dataplane.HsmError):
                lab.call("login", hsm=ip, role="CU", username="kmsuser", password="wrong-one")
    store_id = lab.store(cluster_id, password=password)
    client = lab.kms()
    client.connect_custom_key_store(CustomKeyStoreId=store_id)
    store = lab.describe(store_id)
    assert store["ConnectionState"] == "FAILED" and store["ConnectionErrorCode"] == code
    # FAILED cannot be connected again before a disconnect, which clears the error code.
    with pytest.raises(ClientError) as again:
        client.connect_custom_key_store(CustomKeyStoreId=store_id)
    assert error_code(again) == "CustomKeyStoreInvalidStateException"
    client.disconnect_custom_key_store(CustomKeyStoreId=store_id)
    store = lab.describe(store_id)
    assert store["ConnectionState"] == "DISCONNECTED" and "ConnectionErrorCode" not in store


def test_wrong_passwords_lock_kmsuser_out(lab):
    cluster_id, _ip, unused_backup = lab.active_cluster()
    client = lab.kms()
    store_id = lab.store(cluster_id, password="notThePassword")
    codes = []
    for unused_attempt in range(6):
        client.connect_custom_key_store(CustomKeyStoreId=store_id)
        codes.append(lab.describe(store_id)["ConnectionErrorCode"])
        client.disconnect_custom_key_store(CustomKeyStoreId=store_id)
    assert codes == ["INVALID_CREDENTIALS"] * 5 + ["USER_LOCKED_OUT"]


def test_connecting_takes_the_configured_time(lab):
    cluster_id, _ip, unused_backup = lab.active_cluster()
    store_id = lab.store(cluster_id)
    kms.set_delays(connect=0.6, disconnect=0.3)
    client = lab.kms()
    client.connect_custom_key_store(CustomKeyStoreId=store_id)
    assert lab.describe(store_id)["ConnectionState"] == "CONNECTING"
    client.connect_custom_key_store(CustomKeyStoreId=store_id)  # allowed while CONNECTING
    time.sleep(0.7)
    assert lab.describe(store_id)["ConnectionState"] == "CONNECTED"
    client.disconnect_custom_key_store(CustomKeyStoreId=store_id)
    assert lab.describe(store_id)["ConnectionState"] == "DISCONNECTING"
    with pytest.raises(ClientError) as disconnecting:
        client.connect_custom_key_store(CustomKeyStoreId=store_id)
    assert error_code(disconnecting) == "CustomKeyStoreInvalidStateException"
    time.sleep(0.4)
    assert lab.describe(store_id)["ConnectionState"] == "DISCONNECTED"
    with pytest.raises(ValueError):
        kms.set_delays(connect=-1)


def test_create_checks_the_cluster(lab, make_ca):
    client = lab.kms()
    unchecked = boto3.client("kms", region_name="us-east-1", config=Config(parameter_validation=False))
    one_hsm, _ip, unused_backup = lab.active_cluster(hsms=1)
    cases = [
        (dict(CloudHsmClusterId="cluster-aaaaaaaaaaa"), "CloudHsmClusterNotFoundException", "cannot find"),
        (dict(CloudHsmClusterId=one_hsm), "CloudHsmClusterInvalidConfigurationException", "two active HSMs"),
        (dict(KeyStorePassword="short"), "ValidationException", "between 7 and 32"),
        (dict(CloudHsmClusterId="not-a-cluster"), "ValidationException", "pattern"),
    ]
    good, _ip2, unused_backup = lab.active_cluster()
    cases.append((dict(CloudHsmClusterId=good, TrustAnchorCertificate=make_ca("Other").pem),
                  "IncorrectTrustAnchorException", "trust anchor"))
    for overrides, code, words in cases:
        params = dict(CustomKeyStoreName="s", CloudHsmClusterId=good, TrustAnchorCertificate=lab.ca.pem,
                      KeyStorePassword=KMSUSER_PASSWORD)
        params.update(overrides)
        with pytest.raises(ClientError) as failed:
            unchecked.create_custom_key_store(**params)
        assert error_code(failed) == code, overrides
        assert words in str(failed.value)
        assert "short" not in str(failed.value)  # the password is never echoed
    assert client.describe_custom_key_stores()["CustomKeyStores"] == []

    store_id = lab.store(good, name="first")
    with pytest.raises(ClientError) as name_taken:
        lab.store(one_hsm, name="first")
    assert error_code(name_taken) == "CustomKeyStoreNameInUseException"
    with pytest.raises(ClientError) as in_use:
        lab.store(good, name="second")
    assert error_code(in_use) == "CloudHsmClusterInUseException"
    # A cluster restored from a backup of the same cluster shares its certificate: also in use.
    restored = lab.restore(good)
    with pytest.raises(ClientError) as lineage_in_use:
        lab.store(restored, name="third")
    assert error_code(lineage_in_use) == "CloudHsmClusterInUseException"
    # A store and its cluster are in the same Region: from another Region the cluster does not exist.
    with pytest.raises(ClientError) as other_region:
        lab.store(good, name="elsewhere", region="us-west-2")
    assert error_code(other_region) == "CloudHsmClusterNotFoundException"
    assert [s["CustomKeyStoreId"] for s in client.describe_custom_key_stores()["CustomKeyStores"]] == [store_id]


def test_create_quota_and_pagination(lab):
    client = lab.kms()
    clusters = [lab.active_cluster(kmsuser=False)[0] for unused_attempt in range(kms.STORE_QUOTA + 1)]
    for index, cluster_id in enumerate(clusters[:-1]):
        lab.store(cluster_id, name="store-{0}".format(index))
    with pytest.raises(ClientError) as quota:
        lab.store(clusters[-1], name="one-too-many")
    assert error_code(quota) == "LimitExceededException"
    page = client.describe_custom_key_stores(Limit=4)
    assert len(page["CustomKeyStores"]) == 4 and page["Truncated"]
    names = [s["CustomKeyStoreName"] for s in page["CustomKeyStores"]]
    while page.get("NextMarker"):
        page = client.describe_custom_key_stores(Limit=4, Marker=page["NextMarker"])
        names += [s["CustomKeyStoreName"] for s in page["CustomKeyStores"]]
    assert names == ["store-{0}".format(i) for i in range(kms.STORE_QUOTA)]
    with pytest.raises(ClientError) as marker:
        client.describe_custom_key_stores(Marker="bogus")
    assert error_code(marker) == "InvalidMarkerException"


def test_repoint_to_a_restored_cluster_makes_old_keys_usable(lab):
    cluster_id, ip, subnets = lab.active_cluster()
    client = lab.kms()
    store_id = lab.connected(cluster_id)
    key_id = client.create_key(Origin="AWS_CLOUDHSM", CustomKeyStoreId=store_id)["KeyMetadata"]["KeyId"]
    blob = client.encrypt(KeyId=key_id, Plaintext=b"before the loss")["CiphertextBlob"]
    controlplane.take_backup(cluster_id)  # the daily backup: holds the backing key and the rotated password

    # The cluster is lost.
    hsm_client = lab.client("cloudhsmv2")
    for hsm in controlplane.describe_cluster(cluster_id)["Hsms"]:
        hsm_client.delete_hsm(ClusterId=cluster_id, HsmId=hsm["HsmId"])
    controlplane.advance()
    hsm_client.delete_cluster(ClusterId=cluster_id)
    controlplane.advance()
    with pytest.raises(ClientError) as lost:
        client.decrypt(CiphertextBlob=blob)
    assert "cannot communicate" in str(lost.value)

    restored = lab.restore(cluster_id)
    unrelated, _ip, unused_backup = lab.active_cluster()
    with pytest.raises(ClientError) as still_connected:
        client.update_custom_key_store(CustomKeyStoreId=store_id, CloudHsmClusterId=restored)
    assert error_code(still_connected) == "CustomKeyStoreInvalidStateException"
    client.disconnect_custom_key_store(CustomKeyStoreId=store_id)
    with pytest.raises(ClientError) as not_related:
        client.update_custom_key_store(CustomKeyStoreId=store_id, CloudHsmClusterId=unrelated)
    assert error_code(not_related) == "CloudHsmClusterNotRelatedException"
    assert lab.describe(store_id)["CloudHsmClusterId"] == cluster_id  # nothing changed

    client.update_custom_key_store(CustomKeyStoreId=store_id, CloudHsmClusterId=restored)
    client.connect_custom_key_store(CustomKeyStoreId=store_id)
    store = lab.describe(store_id)
    assert store["ConnectionState"] == "CONNECTED" and store["CloudHsmClusterId"] == restored
    assert client.decrypt(CiphertextBlob=blob)["Plaintext"] == b"before the loss"
    assert client.describe_key(KeyId=key_id)["KeyMetadata"]["CloudHsmClusterId"] == restored


def test_restore_from_an_older_backup_needs_the_password_reset(lab):
    """The activation backup predates KMS's password rotation, so KMS's password no longer matches."""
    cluster_id, ip, unused_backup = lab.active_cluster()
    backup_before = controlplane.take_backup(cluster_id)
    store_id = lab.connected(cluster_id)
    client = lab.kms()
    client.disconnect_custom_key_store(CustomKeyStoreId=store_id)
    subnets = lab.subnets("us-east-1")
    restored = lab.client("cloudhsmv2").create_cluster(
        HsmType="hsm2m.medium", SubnetIds=[s["SubnetId"] for s in subnets],
        SourceBackupId=backup_before["BackupId"])["Cluster"]["ClusterId"]
    controlplane.advance()
    hsms = [lab.hsm(restored, s["AvailabilityZone"]) for s in subnets]
    client.update_custom_key_store(CustomKeyStoreId=store_id, CloudHsmClusterId=restored)
    client.connect_custom_key_store(CustomKeyStoreId=store_id)
    assert lab.describe(store_id)["ConnectionErrorCode"] == "INVALID_CREDENTIALS"
    # The documented fix: tell KMS the password the restored kmsuser has, then reconnect.
    client.disconnect_custom_key_store(CustomKeyStoreId=store_id)
    client.update_custom_key_store(CustomKeyStoreId=store_id, KeyStorePassword=KMSUSER_PASSWORD)
    client.connect_custom_key_store(CustomKeyStoreId=store_id)
    assert lab.describe(store_id)["ConnectionState"] == "CONNECTED"
    assert hsms


def test_repoint_needs_two_active_hsms_and_an_active_cluster(lab):
    cluster_id, _ip, unused_backup = lab.active_cluster()
    store_id = lab.store(cluster_id)
    controlplane.take_backup(cluster_id)
    one_hsm = lab.restore(cluster_id, hsms=1)
    with pytest.raises(ClientError) as too_few:
        lab.kms().update_custom_key_store(CustomKeyStoreId=store_id, CloudHsmClusterId=one_hsm)
    assert error_code(too_few) == "CloudHsmClusterInvalidConfigurationException"
    no_hsm = lab.restore(cluster_id, hsms=0)  # ACTIVE at once, as AWS makes a cluster from a backup, but no HSM
    with pytest.raises(ClientError) as empty:
        lab.kms().update_custom_key_store(CustomKeyStoreId=store_id, CloudHsmClusterId=no_hsm)
    assert error_code(empty) == "CloudHsmClusterInvalidConfigurationException"
    controlplane.transitions.set_seconds({"cluster_create": 3600})
    try:
        creating = lab.restore(cluster_id, hsms=0)  # still CREATE_IN_PROGRESS
    finally:
        controlplane.transitions.reset()
    with pytest.raises(ClientError) as inactive:
        lab.kms().update_custom_key_store(CustomKeyStoreId=store_id, CloudHsmClusterId=creating)
    assert error_code(inactive) == "CloudHsmClusterNotActiveException"
    assert lab.describe(store_id)["CloudHsmClusterId"] == cluster_id


def test_connect_errors_from_the_cluster(lab):
    cluster_id, _ip, subnets = lab.active_cluster()
    store_id = lab.store(cluster_id)
    client = lab.kms()
    hsm_client = lab.client("cloudhsmv2")
    for hsm in controlplane.describe_cluster(cluster_id)["Hsms"]:
        controlplane.degrade_hsm(hsm["HsmId"])
    client.connect_custom_key_store(CustomKeyStoreId=store_id)
    assert lab.describe(store_id)["ConnectionErrorCode"] == "INSUFFICIENT_CLOUDHSM_HSMS"
    client.disconnect_custom_key_store(CustomKeyStoreId=store_id)
    for hsm in controlplane.describe_cluster(cluster_id)["Hsms"]:
        hsm_client.delete_hsm(ClusterId=cluster_id, HsmId=hsm["HsmId"])
    controlplane.advance()
    with pytest.raises(ClientError) as no_hsm:
        client.connect_custom_key_store(CustomKeyStoreId=store_id)
    assert error_code(no_hsm) == "CloudHsmClusterInvalidConfigurationException"
    hsm_client.delete_cluster(ClusterId=cluster_id)
    controlplane.advance()
    client.connect_custom_key_store(CustomKeyStoreId=store_id)
    assert lab.describe(store_id)["ConnectionErrorCode"] == "CLUSTER_NOT_FOUND"


def test_subnet_not_found(lab):
    cluster_id, _ip, subnets = lab.active_cluster()
    store_id = lab.store(cluster_id)
    from moto.ec2.models import ec2_backends

    # Deleting a subnet that still has ENIs is refused by the EC2 API; drop it from the model directly.
    ec2 = ec2_backends[ACCOUNT]["us-east-1"]
    zone = subnets[1]["AvailabilityZone"]
    del ec2.subnets[zone][subnets[1]["SubnetId"]]
    lab.kms().connect_custom_key_store(CustomKeyStoreId=store_id)
    assert lab.describe(store_id)["ConnectionErrorCode"] == "SUBNET_NOT_FOUND"


def test_create_key_rules(lab):
    cluster_id, _ip, unused_backup = lab.active_cluster()
    store_id = lab.connected(cluster_id)
    client = lab.kms()
    cases = [
        (dict(Origin="AWS_CLOUDHSM"), "ValidationException"),
        (dict(Origin="AWS_CLOUDHSM", CustomKeyStoreId="cks-00000000000000000"), "CustomKeyStoreNotFoundException"),
        (dict(Origin="AWS_CLOUDHSM", CustomKeyStoreId=store_id, MultiRegion=True), "UnsupportedOperationException"),
        (dict(Origin="AWS_CLOUDHSM", CustomKeyStoreId=store_id, KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY"),
         "UnsupportedOperationException"),
        (dict(CustomKeyStoreId=store_id), "UnsupportedOperationException"),
    ]
    for params, code in cases:
        with pytest.raises(ClientError) as failed:
            client.create_key(**params)
        assert error_code(failed) == code, params
    plain = client.create_key()["KeyMetadata"]
    assert plain["Origin"] == "AWS_KMS" and "CustomKeyStoreId" not in plain
    assert len(client.list_keys()["Keys"]) == 1


def test_lineage_follows_backups_and_copies(lab):
    from cloudhsm_sim.kms import clusters

    cluster_id, _ip, unused_backup = lab.active_cluster()
    backup = controlplane.take_backup(cluster_id)
    controlplane.advance()
    lab.client("cloudhsmv2").copy_backup_to_region(BackupId=backup["BackupId"], DestinationRegion="us-west-2")
    controlplane.advance()
    west = lab.client("cloudhsmv2", "us-west-2")
    copy_id = west.describe_backups()["Backups"][0]["BackupId"]
    subnets = lab.subnets("us-west-2")
    clone = west.create_cluster(HsmType="hsm2m.medium", SubnetIds=[s["SubnetId"] for s in subnets],
                                SourceBackupId=copy_id)["Cluster"]["ClusterId"]
    restored = lab.restore(cluster_id)
    assert [entry[0] for entry in clusters.lineage(clone)] == [clone, cluster_id]
    assert clusters.lineage(restored)[-1][0] == cluster_id
    # Related by lineage even when the recorded certificate is unknown; an unrelated cluster is not.
    unrelated, _ip2, unused_backup = lab.active_cluster(kmsuser=False)
    facts = clusters.ClusterFacts(restored, ACCOUNT, "us-east-1")
    assert clusters.related(None, cluster_id, facts)
    assert not clusters.related(None, unrelated, facts)
    # The store only sees clusters of its own Region.
    assert clusters.ClusterFacts(clone, ACCOUNT, "us-east-1").found is False
    assert clusters.ClusterFacts(clone, ACCOUNT, "us-west-2").found is True


def test_admin_routes(lab):
    from cloudhsm_sim.kms import admin

    assert admin.set_settings({"connect": 2, "disconnect": 1}) == (200, {"kms": {"connect": 2.0, "disconnect": 1.0}})
    assert admin.get_settings() == (200, {"kms": {"connect": 2.0, "disconnect": 1.0}})
    with pytest.raises(ValueError):
        admin.set_settings({"connct": 2})
    assert admin.reset_settings() == (200, {"kms": {"connect": 0.0, "disconnect": 0.0}})
    cluster_id, _ip, unused_backup = lab.active_cluster()
    store_id = lab.store(cluster_id)
    status, body = admin.list_stores()
    assert status == 200
    assert [(s["CustomKeyStoreId"], s["Region"], s["ConnectionState"]) for s in body["stores"]] == [
        (store_id, "us-east-1", "DISCONNECTED")]
    assert "TrustAnchorCertificate" not in body["stores"][0] and KMSUSER_PASSWORD not in str(body)
    assert {method for method, _path, _handler in admin.ROUTES} == {"GET", "POST", "DELETE"}
