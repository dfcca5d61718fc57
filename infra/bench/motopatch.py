# moto_server with an item-level rollback for DynamoDB TransactWriteItems.
#
# moto 5.2.1 makes a deep copy of the whole table for every item of a
# transaction (keeping only the last) so that it can put the table back if
# the transaction is cancelled. A transaction of 96 user updates against a
# table of 10,000 users then takes minutes and gigabytes, which says
# nothing about Rekey. This keeps, instead, a copy of only the items the
# transaction touches and puts exactly those back on cancellation: the same
# outcome, at the cost of the transaction's own size. Used by the
# benchmarks only (infra/bench/patchedmoto.go); tests run moto as installed.
import copy
import sys

import moto.dynamodb.models as models
from moto.dynamodb.models.dynamo_type import DynamoType

_transact = models.DynamoDBBackend.transact_write_items


def _touched(backend, transact_items):
    out = []
    for op in transact_items:
        _, body = next(iter(op.items()))
        table = backend.tables.get(body.get("TableName"))
        if table is None:
            continue
        source = body.get("Key") or body.get("Item") or {}
        if table.hash_key_attr not in source:
            continue
        hash_value = DynamoType(source[table.hash_key_attr])
        range_value = None
        if table.range_key_attr and table.range_key_attr in source:
            range_value = DynamoType(source[table.range_key_attr])
        out.append((table, hash_value, range_value))
    return out


def _current(table, hash_value, range_value):
    if range_value is None:
        return table.items.get(hash_value)
    return table.items.get(hash_value, {}).get(range_value)


def _restore(table, hash_value, range_value, old):
    if range_value is None:
        if old is None:
            table.items.pop(hash_value, None)
        else:
            table.items[hash_value] = old
        return
    if old is None:
        table.items.get(hash_value, {}).pop(range_value, None)
    else:
        table.items[hash_value][range_value] = old


def _transact_with_item_rollback(self, transact_items):
    saved = []
    for table, hash_value, range_value in _touched(self, transact_items):
        old = _current(table, hash_value, range_value)
        saved.append((table, hash_value, range_value, copy.deepcopy(old) if old is not None else None))
    real = copy.deepcopy

    def no_table_copies(obj, memo=None):
        if isinstance(obj, models.Table):
            return obj
        return real(obj, memo)

    copy.deepcopy = no_table_copies
    try:
        return _transact(self, transact_items)
    except Exception:
        for table, hash_value, range_value, old in reversed(saved):
            _restore(table, hash_value, range_value, old)
        raise
    finally:
        copy.deepcopy = real


models.DynamoDBBackend.transact_write_items = _transact_with_item_rollback

from moto.server import main  # noqa: E402

main(sys.argv[1:])
