"""getTransaction shapes and encodings."""

from __future__ import annotations

import base64

import base58
import pytest
from solders.hash import Hash
from solders.instruction import CompiledInstruction
from solders.message import Message
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.transaction import VersionedTransaction

from engine.chain.decode import DecodeError, decode_transaction
from engine.chain.txjson import parse_transaction

from .conftest import deep, load_fixture, result_of

BUY = "pumpfun/pump_buy__enc-json.json"  # an array holding one result
ENVELOPE = "pumpswap/pumpswap_buy_via_router_6m2C__enc-json.json"  # a full JSON-RPC envelope
PARSED = "pumpfun/pump_create_v2_token2022_cashback_2026__enc-jsonParsed.json"


def test_envelope_bare_result_and_array_of_one_decode_alike() -> None:
    for rel in (BUY, ENVELOPE):
        doc = load_fixture(rel)
        res = result_of(doc)
        expected = decode_transaction(doc)
        assert expected
        assert decode_transaction(res) == expected
        assert decode_transaction([res]) == expected
        assert decode_transaction({"jsonrpc": "2.0", "result": res, "id": 1}) == expected


def test_loaded_addresses_follow_static_keys_writable_then_readonly() -> None:
    doc = deep(result_of(load_fixture(BUY)))
    keys = doc["transaction"]["message"]["accountKeys"]
    original = list(keys)
    # Move the last two keys into an address lookup table: one writable, one readonly.
    doc["meta"]["loadedAddresses"] = {"writable": [keys[-2]], "readonly": [keys[-1]]}
    del keys[-2:]
    view = parse_transaction(doc)
    assert list(view.account_keys) == original
    assert decode_transaction(doc) == decode_transaction(load_fixture(BUY))


def test_json_parsed_keys_and_signers() -> None:
    view = parse_transaction(load_fixture(PARSED))
    assert view.fee_payer == "5htGpHK2oV9g2BcDqLdRBqjCLdy8mc3fsESfR5DU73eM"
    # Payer and the new mint both signed; lookup-table keys are already in the list.
    assert view.signers == {
        "5htGpHK2oV9g2BcDqLdRBqjCLdy8mc3fsESfR5DU73eM",
        "CWiTGbCiDd8BKtNYNE2boT9fJGFG2MU53Uf6HQk4pump",
    }
    assert len(view.account_keys) == len(view.pre_balances)


def test_base64_encoded_transaction() -> None:
    doc = deep(result_of(load_fixture(BUY)))
    msg = doc["transaction"]["message"]
    header = msg["header"]
    message = Message.new_with_compiled_instructions(
        header["numRequiredSignatures"],
        header["numReadonlySignedAccounts"],
        header["numReadonlyUnsignedAccounts"],
        [Pubkey.from_string(k) for k in msg["accountKeys"]],
        Hash.from_string(msg["recentBlockhash"]),
        [
            CompiledInstruction(
                ix["programIdIndex"], base58.b58decode(ix["data"]), bytes(ix["accounts"])
            )
            for ix in msg["instructions"]
        ],
    )
    tx = VersionedTransaction.populate(
        message, [Signature.from_string(doc["transaction"]["signatures"][0])]
    )
    expected = decode_transaction(doc)
    doc["transaction"] = [base64.b64encode(bytes(tx)).decode(), "base64"]
    assert decode_transaction(doc) == expected


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ("This is a broken data file", "got a JSON string"),
        (42, "got a JSON number"),
        ([], "array of one transaction, got 0"),
        ([{}, {}], "array of one transaction, got 2"),
        ({"jsonrpc": "2.0", "result": None, "id": 1}, "transaction not found"),
        (
            {"jsonrpc": "2.0", "error": {"code": -32602, "message": "Invalid param"}, "id": 1},
            "Invalid param",
        ),
        ({"hello": 1}, "no 'transaction'"),
        ({"transaction": {}, "slot": 1}, "transaction.signatures must be a JSON array"),
        ({"transaction": {"signatures": ["x"], "message": {}}}, "result.slot"),
        ({"slot": 1, "transaction": ["AAAA", "base58"]}, "base58 is not supported"),
        ({"slot": 1, "transaction": ["%%%", "base64"]}, "base64 data does not parse"),
    ],
)
def test_not_a_transaction_is_a_clear_error(doc: object, message: str) -> None:
    with pytest.raises(DecodeError, match=message):
        decode_transaction(doc)  # type: ignore[arg-type]


def test_bad_indices_and_amounts_are_named() -> None:
    doc = deep(result_of(load_fixture(BUY)))
    doc["transaction"]["message"]["instructions"][0]["programIdIndex"] = 99
    with pytest.raises(DecodeError, match=r"message.instructions\[0\].programIdIndex 99"):
        decode_transaction(doc)
    doc = deep(result_of(load_fixture(BUY)))
    doc["meta"]["postTokenBalances"][0]["uiTokenAmount"]["amount"] = "-5"
    with pytest.raises(DecodeError, match="postTokenBalances"):
        decode_transaction(doc)
