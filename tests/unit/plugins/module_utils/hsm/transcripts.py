# -*- coding: utf-8 -*-

# Copyright: Contributors to the hsmops.cloudhsm collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Client tool transcripts as AWS documents them (and as real runs printed them), for the parser tests.

Verbatim except that trailing spaces at line ends are dropped; the CMU CAUTION block is written once and joined into
the transcripts that print it. The simulator's transcript tests (tests/simulator/test_transcripts_sdk*.py) load this
file by path and compare the emulated tools with the same texts, so it imports nothing beyond the standard library.

CMU/KMU: AWS CloudHSM User Guide, cloudhsm_mgmt_util-*.md and key_mgmt_util-*.md pages; cloudhsm-cli:
cloudhsm_cli-*.md pages and troubleshoot-sdk5-*-replicate-failures; real-run variants from public setup notes.
"""

from __future__ import annotations

CMU_BANNER = r"""$ /opt/cloudhsm/bin/cloudhsm_mgmt_util /opt/cloudhsm/etc/cloudhsm_mgmt_util.cfg

Connecting to the server(s), it may take time
depending on the server(s) load, please wait...

Connecting to server '10.0.2.9': hostname '10.0.2.9', port 2225...
Connected to server '10.0.2.9': hostname '10.0.2.9', port 2225.

Connecting to server '10.0.3.11': hostname '10.0.3.11', port 2225...
Connected to server '10.0.3.11': hostname '10.0.3.11', port 2225.

Connecting to server '10.0.1.12': hostname '10.0.1.12', port 2225...
Connected to server '10.0.1.12': hostname '10.0.1.12', port 2225.
"""

CMU_LOGIN = r"""aws-cloudhsm>loginHSM CO admin co12345

loginHSM success on server 0(10.0.2.9)
loginHSM success on server 1(10.0.3.11)
"""

CMU_LOGIN_HPSWD = r"""aws-cloudhsm>loginHSM CO admin -hpswd
Enter password:

loginHSM success on server 0(10.0.2.9)
loginHSM success on server 1(10.0.3.11)

aws-cloudhsm>
"""

CMU_LOGOUT = r"""aws-cloudhsm>logoutHSM

logoutHSM success on server 0(10.0.2.9)
logoutHSM success on server 1(10.0.3.11)
"""

CMU_LIST_USERS_TWO_SERVERS = r"""aws-cloudhsm> listUsers
Users on server 0(10.0.0.1):
Number of users found:6

    User Id             User Type       User Name            MofnPubKey    LoginFailureCnt         2FA
         1              PCO             admin                     YES               0               NO
         2              AU              app_user                   NO               0               NO
         3              CU              crypto_user1               NO               0               NO
         4              CU              crypto_user2               NO               0               NO
         5              CO              officer1                  YES               0               NO
         6              CO              officer2                   NO               0               NO
Users on server 1(10.0.0.2):
Number of users found:5

    User Id             User Type       User Name            MofnPubKey    LoginFailureCnt         2FA
         1              PCO             admin                     YES               0               NO
         2              AU              app_user                   NO               0               NO
         3              CU              crypto_user1               NO               0               NO
         4              CU              crypto_user2               NO               0               NO
         5              CO              officer1                  YES               0               NO
"""

CMU_LIST_USERS_PRECO = r"""aws-cloudhsm>listUsers
Users on server 0(server1):
Number of users found:2

    User Id             User Type       User Name                          MofnPubKey    LoginFailureCnt         2FA
         1              PRECO           admin                                    NO               0               NO
         2              AU              app_user                                 NO               0               NO
"""

CMU_CAUTION = r"""*************************CAUTION********************************
This is a CRITICAL operation, should be done on all nodes in the
cluster. AWS does NOT synchronize these changes automatically with the
nodes on which this operation is not executed or failed, please
ensure this operation is executed on all nodes in the cluster.
****************************************************************

Do you want to continue(y/n)?
"""

# The CAUTION block reads the same in every command that prints it; the typed answer follows the prompt on its line.
CMU_CREATE_USER = (
    "aws-cloudhsm> createUser CO alice 391019314\n\n"
    + CMU_CAUTION.rstrip("\n")
    + r"""Invalid option, please type 'y' or 'n'

Do you want to continue(y/n)?y
Creating User alice(CO) on 3 nodes
"""
)

CMU_CHANGE_PSWD_PRECO = (
    "aws-cloudhsm>changePswd PRECO admin P@55w0rd\n"
    + CMU_CAUTION.rstrip("\n")
    + r"""y
Changing password for admin(PRECO) on 1 nodes
changePswd success on server 0(10.10.4.20)
"""
)

CMU_DELETE_USER = r"""aws-cloudhsm> deleteUser CO alice
Deleting user alice(CO) on 3 nodes
deleteUser success on server 0(10.0.0.1)
deleteUser success on server 0(10.0.0.2)
deleteUser success on server 0(10.0.0.3)
"""

CMU_CREATE_USER_PARTIAL = r"""Do you want to continue(y/n)?y
Creating User user1(CU) on 2 nodes
createUser failed: RET_MXN_AUTH_FAILED
creating user on server 0(10.0.2.14) failed

Retry/Ignore/Abort?(R/I/A):A
"""

CMU_DELETE_USER_PARTIAL = r"""aws-cloudhsm>deleteUser CU user1
Deleting user user1(CU) on 2 nodes
deleteUser failed: RET_MXN_AUTH_FAILED
deleteUser failed on server 0(10.0.2.14)

Retry/rollBack/Ignore?(R/B/I):I
deleteUser failed: RET_MXN_AUTH_FAILED
deleteUser failed on server 1(10.0.1.4)

Retry/rollBack/Ignore?(R/B/I):I
"""

CMU_INFO_SERVER = r"""aws-cloudhsm> info server 0
Id      Name                    Hostname         Port   State           Partition               LoginState
0       10.0.0.1                10.0.0.1        2225    Connected       hsm-udw0tkfg1ab         Logged in as 'testuser(CU)'
"""

CMU_SERVER_MODE = r"""aws-cloudhsm> server 0
Server is in 'E2' mode...
"""

CMU_FIND_ALL_KEYS = r"""aws-cloudhsm> findAllKeys 4 0
Keys on server 0(10.0.0.1):
Number of keys found 6
number of keys matched from start index 0::6
8(s),9(s),17,262162(s),19(o),31(o)
findAllKeys success on server 0(10.0.0.1)
Keys on server 1(10.0.0.2):
Number of keys found 6
number of keys matched from start index 0::6
8(s),9(s),17,262162(s),19(o),31(o)
findAllKeys success on server 1(10.0.0.2)
"""

CMU_FIND_ALL_KEYS_HASH = r"""aws-cloudhsm> findAllKeys 6 1
Keys on server 0(10.0.0.1):
Number of keys found 3
number of keys matched from start index 0::3
8(s),9(s),11,17(s)
Key Hash:
55655676c95547fd4e82189a072ee1100eccfca6f10509077a0d6936a976bd49
findAllKeys success on server 0(10.0.0.1)
"""

CMU_SYNC = r"""syncKey <key handle> <destination hsm>
aws-cloudhsm> server 0
aws-cloudhsm> syncKey 261251 1
syncKey success
"""

CMU_SYNC_USER = r"""syncUser <user ID> <server ID>
server 0> syncUser 6 1
ExtractMaskedObject: 0x0 !
InsertMaskedObject: 0x0 !
syncUser success
"""

CMU_QUIT = r"""aws-cloudhsm> quit
disconnecting from servers, please wait...
"""

CMU_ACTIVATION = r"""aws-cloudhsm>loginHSM PRECO admin password

loginHSM success on server 0(server1)
aws-cloudhsm>changePswd PRECO admin <NewPassword>
  (CAUTION prompt) … Do you want to continue(y/n)?y
Changing password for admin(PRECO) on 1 nodes
aws-cloudhsm>listUsers
…         1              CO              admin                                    NO               0               NO
"""

KMU_LOGIN = r"""Command:  loginHSM -u CU -s example_user -p aws
Cfm3LoginHSM returned: 0x00 : HSM Return: SUCCESS

Cluster Status
Node id 0 and err state 0x00000000 : HSM Return: SUCCESS
Node id 1 and err state 0x00000000 : HSM Return: SUCCESS
Node id 2 and err state 0x00000000 : HSM Return: SUCCESS
"""

KMU_LOGIN_ERROR_STATUS = r"""Command:  loginHSM -u CU -s example_user -p <password>
Cfm3LoginHSM returned: 0x00 : HSM Return: SUCCESS

Cluster Error Status
Node id 0 and err state 0x00000000 : HSM Return: SUCCESS
Node id 1 and err state 0x00000000 : HSM Return: SUCCESS
Node id 2 and err state 0x00000000 : HSM Return: SUCCESS
"""

KMU_LOGOUT = r"""Command:  logoutHSM
Cfm3LogoutHSM returned: 0x00 : HSM Return: SUCCESS
Cluster Error Status
Node id 0 and err state 0x00000000 : HSM Return: SUCCESS
...
"""

KMU_GEN_SYM_KEY = r"""Command: genSymKey -t 31 -s 32 -l aes256
        Cfm3GenerateSymmetricKey returned: 0x00 : HSM Return: SUCCESS
        Symmetric Key Created.  Key Handle: 6
        Cluster Error Status
        Node id 0 and err state 0x00000000 : HSM Return: SUCCESS
"""

KMU_GEN_SYM_KEY_ATTEST = r"""                Command:  genSymKey -t 16 -s 2048 -l generic-mV2 -m_value 2 -u 6 -attest
        Cfm3GenerateSymmetricKey returned: 0x00 : HSM Return: SUCCESS
        Symmetric Key Created.  Key Handle: 9
        Attestation Check : [PASS]
        Cluster Error Status
        Node id 1 and err state 0x00000000 : HSM Return: SUCCESS
        Node id 0 and err state 0x00000000 : HSM Return: SUCCESS
"""

KMU_FIND_KEY = r"""Command: findKey
Total number of keys present 13
 number of keys matched from start index 0::12
6, 7, 524296, 9, 262154, 262155, 262156, 262157, 262158, 262159, 262160, 262161, 262162
        Cluster Error Status
        Node id 1 and err state 0x00000000 : HSM Return: SUCCESS
        Node id 0 and err state 0x00000000 : HSM Return: SUCCESS
        Cfm3FindKey returned: 0x00 : HSM Return: SUCCESS
"""

KMU_FIND_KEY_EMPTY = r"""Command: findKey -sess 1

Total number of keys present 0

        Cluster Error Status
        Node id 1 and err state 0x00000000 : HSM Return: SUCCESS
        Node id 0 and err state 0x00000000 : HSM Return: SUCCESS

        Cfm3FindKey returned: 0x00 : HSM Return: SUCCESS
"""

KMU_GET_ATTRIBUTE_ALL = r"""Command:  getAttribute -o 7 -a 512 -out attr_7
got all attributes of size 444 attr cnt 17
Attributes dumped into attr_7 file
        Cfm3GetAttribute returned: 0x00 : HSM Return: SUCCESS
"""

KMU_DELETE_KEY = r"""Command: deleteKey -k 6
        Cfm3DeleteKey returned: 0x00 : HSM Return: SUCCESS
        Cluster Error Status
        Node id 1 and err state 0x00000000 : HSM Return: SUCCESS
        Node id 2 and err state 0x00000000 : HSM Return: SUCCESS
"""

KMU_DELETE_KEY_BAD_HANDLE = r"""Command: deleteKey -k 252126
        Cfm3FindKey returned: 0xa8 : HSM Error: Invalid object handle is passed to this operation
        Cluster Error Status
        Node id 1 and err state 0x000000a8 : HSM Error: Invalid object handle is passed to this operation
        Node id 2 and err state 0x000000a8 : HSM Error: Invalid object handle is passed to this operation
"""

KMU_DELETE_KEY_DENIED = r"""Command:  deleteKey -k 262152
Cfm3DeleteKey returned: 0xc6 : HSM Error: Key Access is denied.
"""

KMU_LIST_USERS = r"""Command:  listUsers
        Number Of Users found 4
        Index       User ID     User Type       User Name           MofnPubKey    LoginFailureCnt         2FA
        1                1      PCO             admin                     NO               0               NO
        2                2      AU              app_user                  NO               0               NO
        3                3      CU              alice                     YES              0               NO
        4                4      CU              bob                       NO               0               NO
        5                5      CU              trent                     YES              0               NO
        Cfm3ListUsers returned: 0x00 : HSM Return: SUCCESS
"""

CLI_QUORUM_ERROR = r"""{
  "error_code": 1,
  "data": "Quorum approval is required for this operation"
}
"""

CLI_FILTER_ERROR = r"""{
 "error_code": 1,
 "data": "Key selection criteria matched 48 keys. Refine selection criteria to select a single key."
}
"""

CLI_REPLICATE_ERRORS = r"""{
  "error_code": 1,
  "data": "Specified user is inconsistent across the cluster"
}
{ "error_code": 1, "data": "User replicate failed on 1 of 3 connections" }
"""

CLI_SINGLE_COMMAND = r"""$ export CLOUDHSM_ROLE = admin
$ export CLOUDHSM_PIN = admin_username:admin_password
$ cloudhsm-cli user change-password --username alice --role crypto-user
Enter password:
Confirm password:
{
    "error_code": 0,
    "data": {
      "username": "alice",
      "role": "crypto-user"
    }
}
"""

CLI_ACTIVATE = r"""aws-cloudhsm > cluster activate
Enter password:
Confirm password:
{
  "error_code": 0,
  "data": "Cluster activation successful"
}
"""

CLI_LOGIN = r"""aws-cloudhsm >login --username admin1 --role admin
Enter password:
{
  "error_code": 0,
  "data": {
    "username": "admin1",
    "role": "admin"
  }
}
"""

CLI_LOGOUT = r"""aws-cloudhsm >logout
{
  "error_code": 0,
  "data": "Logout successful"
}
"""

CLI_USER_LIST = r"""aws-cloudhsm > user list
{
  "error_code": 0,
  "data": {
    "users": [
      {
        "username": "admin",
        "role": "admin",
        "locked": "false",
        "mfa": [],
        "cluster-coverage": "full"
      },
      {
        "username": "test_user",
        "role": "admin",
        "locked": "false",
        "mfa": [
          {
            "strategy": "token-sign",
            "status": "enabled"
          }
        ],
        "cluster-coverage": "full"
      },
      {
        "username": "app_user",
        "role": "internal(APPLIANCE_USER)",
        "locked": "false",
        "mfa": [],
        "cluster-coverage": "full"
      }
    ]
  }
}
"""

CLI_USER_CREATE = r"""aws-cloudhsm > user create --username alice --role crypto-user
Enter password:
Confirm password:
{
  "error_code": 0,
  "data": {
    "username": "alice",
    "role": "crypto-user"
  }
}
"""

CLI_USER_CHANGE_PASSWORD = r"""aws-cloudhsm > user change-password --username bob --role crypto-user
Enter password:
Confirm password:
{
  "error_code": 0,
  "data": {
    "username": "bob",
    "role": "crypto-user"
  }
}
"""

CLI_USER_DELETE = r"""aws-cloudhsm > user delete --username alice --role crypto-user
{
  "error_code": 0,
  "data": {
    "username": "alice",
    "role": "crypto-user"
  }
}
"""

CLI_USER_REPLICATE = r"""admin-user@cluster-1234abcdefg > user replicate \
 --username example-admin \
 --role admin \
 --source-cluster-id cluster-1234abcdefg \
 --destination-cluster-id cluster-2345bcdefgh
{
 "error_code": 0,
 "data": {
 "user": {
 "username": "example-admin",
 "role": "admin",
 "locked": "false",
 "mfa": [],
 "quorum": [],
 "cluster-coverage": "full"
 },
 "message": "Successfully replicated user"
 }
}
"""

CLI_HSM_INFO = r"""aws-cloudhsm > cluster hsm-info
{
 "error_code": 0,
 "data": {
 "hsms": [
 {
 "vendor": "Marvell Semiconductors, Inc.",
 "model": "NITROX-III CNN35XX-NFBE",
 "serial-number": "5.3G1941-ICM000590",
 "hardware-version-major": "5",
 "hardware-version-minor": "3",
 "firmware-version-major": "2",
 "firmware-version-minor": "6",
 "firmware-build-number": "16",
 "firmware-id": "CNN35XX-NFBE-FW-2.06-16"
 "fips-state": "2 [FIPS mode with single factor authentication]"
 },
 …
 ]
 }
}
"""

CLI_KEY_LIST_PAGE = r"""aws-cloudhsm > key list
{
 "error_code": 0,
 "data": {
 "matched_keys": [
 {
 "key-reference": "0x00000000000003d5",
 "attributes": {
 "label": "test_label_1"
 }
 },
 {
 "key-reference": "0x0000000000000626",
 "attributes": {
 "label": "test_label_2"
 }
 },.
 ...8 keys later...
 ],
 "total_key_count": 56,
 "returned_key_count": 10,
 "next_token": "10"
 }
}
"""

CLI_KEY_VERBOSE_ENTRY = r"""{
 "key-reference": "0x0000000000000030",
 "key-info": {
 "key-owners": [ { "username": "cu1", "key-coverage": "full" } ],
 "shared-users": [],
 "key-quorum-values": { "manage-key-quorum-value": 0, "use-key-quorum-value": 0 },
 "cluster-coverage": "full"
 },
 "attributes": {
 "key-type": "aes", "label": "98a6688d1d964ed7b45b9cec5c4b1909", "id": "", "check-value": "0xb28a46",
 "class": "secret-key", "encrypt": false, "decrypt": false, "token": true, "always-sensitive": true,
 "derive": false, "destroyable": true, "extractable": true, "local": true, "modifiable": true,
 "never-extractable": false, "private": true, "sensitive": true, "sign": true, "trusted": false,
 "unwrap": false, "verify": true, "wrap": false, "wrap-with-trusted": false, "key-length-bytes": 32
 }
}
"""

CLI_KEY_GENERATE_AES = r"""aws-cloudhsm > key generate-symmetric aes \
--label example-aes \
--key-length-bytes 24
{
 "error_code": 0,
 "data": {
 "key": {
 "key-reference": "0x00000000002e06bf",
 "key-info": {
 "key-owners": [
 {
 "username": "cu1",
 "key-coverage": "full"
 }
 ],
 "shared-users": [],
 "key-quorum-values": {
 "manage-key-quorum-value": 0,
 "use-key-quorum-value": 0
 },
 "cluster-coverage": "full"
 },
 "attributes": {
 "key-type": "aes",
 "label": "example-aes",
 "id": "",
 "check-value": "0x9b94bd",
 "class": "secret-key",
 "encrypt": false,
 "decrypt": false,
 "token": true,
 "always-sensitive": true,
 "derive": false,
 "destroyable": true,
 "extractable": true,
 "local": true,
 "modifiable": true,
 "never-extractable": false,
 "private": true,
 "sensitive": true,
 "sign": true,
 "trusted": false,
 "unwrap": false,
 "verify": true,
 "wrap": false,
 "wrap-with-trusted": false,
 "key-length-bytes": 24
 }
 }
 }
}
"""

CLI_KEY_DELETE = r"""Usage: key delete [OPTIONS] --filter [<FILTER>...]
aws-cloudhsm > key delete --filter attr.label="ec-test-public-key"
{
  "error_code": 0,
  "data": {
    "message": "Key deleted successfully"
  }
}
"""

CLI_KEY_REPLICATE = r"""Usage: key replicate --filter [<FILTER>...] --source-cluster-id <SOURCE_CLUSTER_ID> --destination-cluster-id <DESTINATION_CLUSTER_ID>
crypto-user-1@cluster-1234abcdefg > key replicate \
 --filter attr.label=example-key \
 --source-cluster-id cluster-1234abcdefg \
 --destination-cluster-id cluster-2345bcdefgh
{
 "error_code": 0,
 "data": {
 "key": {
 "key-reference": "0x0000000000300006",
 "key-info": { "key-owners": [ { "username": "crypto-user-1", "key-coverage": "full" } ], "shared-users": [],
   "key-quorum-values": { "manage-key-quorum-value": 0, "use-key-quorum-value": 0 }, "cluster-coverage": "full" },
 "attributes": { "key-type": "aes", "label": "example-key", "id": "0x", "check-value": "0x5e118e", "class": "secret-key", … "key-length-bytes": 16 }
 },
 "message": "Successfully replicated key"
 }
}
"""

CLI_KEY_REPLICATE_CONFLICT = r"""{
  "error_code": 1,
  "data": "Key replicate failed on 1 of 3 connections"
}
"""

CLI_KEY_REPLICATE_DESYNC = r"""{
  "error_code": 1,
  "data": "The selected key is not synchronized throughout the cluster"
}
"""

CLI_KEY_LIST_FILTER_VERBOSE = r"""aws-cloudhsm > key list --filter attr.label=example-desynchronized-key-label --verbose
{
  "error_code": 0,
  "data": {
    "matched_keys": [
      {
        "key-reference": "0x000000000048000f",
        "key-info": {
          "key-owners": [
            {
              "username": "cu1",
              "key-coverage": "full"
            }
          ],
          "shared-users": [],
          "key-quorum-values": {
            "manage-key-quorum-value": 0,
            "use-key-quorum-value": 0
          },
          "cluster-coverage": "full"
        },
        "attributes": {
          "key-type": "aes",
          "label": "example-desynchronized-key-label",
          "id": "0x",
          "check-value": "0xbe79db",
          "class": "secret-key",
          "encrypt": false,
          "decrypt": false,
          "token": true,
          "always-sensitive": true,
          "derive": false,
          "destroyable": true,
          "extractable": true,
          "local": true,
          "modifiable": true,
          "never-extractable": false,
          "private": true,
          "sensitive": true,
          "sign": "inconsistent",
          "trusted": false,
          "unwrap": false,
          "verify": true,
          "wrap": false,
          "wrap-with-trusted": false,
          "key-length-bytes": 16
        }
      }
    ],
    "total_key_count": 1,
    "returned_key_count": 1
  }
}
"""

CMU_ENABLE_E2E = r"""aws-cloudhsm>enable_e2e
E2E enabled on server 0(10.0.2.9)
E2E enabled on server 1(10.0.3.11)
E2E enabled on server 2(10.0.1.12)
"""

CMU_BANNER_E2E = r"""Ignoring E2E enable flag in the configuration file
Connecting to the server(s), it may take time
depending on the server(s) load, please wait...
Connecting to server '10.0.140.211': hostname '10.0.140.211', port 2225...
Connected to server '10.0.140.211': hostname '10.0.140.211', port 2225.
E2E enabled on server 0(10.0.140.211)
"""

CMU_BANNER_NO_CA = r"""Ignoring E2E enable flag in the configuration file

Connecting to the server(s), it may take time
depending on the server(s) load, please wait...

Connecting to server '192.168.125.125': hostname '192.168.125.125', port 2225...
Connected to server '192.168.125.125': hostname '192.168.125.125', port 2225.
/opt/cloudhsm/etc/customerCA.crt,
partition owner certificate not exist at given path
Server 0(192.168.125.125) is in unencrypted mode now...
running in limited commands mode
Error: partition owner certificate doesn't exist at given path.
Failed to create client ssl ctx
E2E Session failed: E2E setup failed
Enabling E2E failed
aws-cloudhsm>
"""

CMU_ENABLE_E2E_MANUAL = r"""aws-cloudhsm> enable_e2e
E2E enabled on server 0(192.168.125.125)
"""

CMU_LOGIN_FAILED = r"""loginHSM failed: HSM Error: RET_USER_LOGIN_FAILURE
"""

CMU_CREATE_USER_EXISTS = r"""createUser failed: HSM Error: This user is already created
"""

CMU_LIST_USERS_ACTIVATED = r"""aws-cloudhsm>listUsers
Users on server 0(192.168.125.125):
Number of users found:2

    User Id             User Type       User Name                          MofnPubKey    LoginFailureCnt         2FA
         1              CO              admin                                    NO               0               NO
         2              AU              app_user                                 NO               0               NO
"""

KMU_GEN_SYM_KEY_NEX = r"""Command: genSymKey -t 31 -s 32 -l aes256 -nex


        Cfm3GenerateSymmetricKey returned: 0x00 : HSM Return: SUCCESS

        Symmetric Key Created.  Key Handle: 6

        Cluster Status:
        Node id 0 status: 0x00000000 : HSM Return: SUCCESS

Command: exit
"""

# Long lists wrapped over several lines, every piece but the last ending with a comma (the form a real findKey
# printed for 18 keys under one label; the first line is shortened here).
KMU_FIND_KEY_WRAPPED = r"""Command: findKey -c 4 -l shared-label
Total number of keys present 18
 number of keys matched from start index 0::17
6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 262150, 524300, 524308,
524309, 524310, 524311
        Cluster Error Status
        Node id 1 and err state 0x00000000 : HSM Return: SUCCESS
        Node id 0 and err state 0x00000000 : HSM Return: SUCCESS
        Cfm3FindKey returned: 0x00 : HSM Return: SUCCESS
"""

# The same wrapping with a lone handle on the last line.
KMU_FIND_KEY_WRAPPED_LONE = r"""Command: findKey -l app
Total number of keys present 4
 number of keys matched from start index 0::3
6, 7, 8,
9
        Cluster Error Status
        Node id 0 and err state 0x00000000 : HSM Return: SUCCESS
        Cfm3FindKey returned: 0x00 : HSM Return: SUCCESS
"""

CMU_FIND_ALL_KEYS_WRAPPED = r"""aws-cloudhsm> findAllKeys 4 0
Keys on server 0(10.0.0.1):
Number of keys found 5
number of keys matched from start index 0::5
8(s),9(s),17,
262162(s),19(o)
findAllKeys success on server 0(10.0.0.1)
Keys on server 1(10.0.0.2):
Number of keys found 5
number of keys matched from start index 0::5
8(s),9(s),17,
262162(s),
19(o)
findAllKeys success on server 1(10.0.0.2)
"""

CMU_FIND_ALL_KEYS_WRAPPED_HASH = r"""aws-cloudhsm> findAllKeys 6 1
Keys on server 0(10.0.0.1):
Number of keys found 4
number of keys matched from start index 0::4
8(s),9(s),
11,17(s)
Key Hash:
55655676c95547fd4e82189a072ee1100eccfca6f10509077a0d6936a976bd49
findAllKeys success on server 0(10.0.0.1)
"""
