"""moto_server with an item-level rollback for DynamoDB TransactWriteItems.

moto 5.2.1 backs a table up before a transaction by deep-copying the whole
table once per item of the transaction, so that it can put the table back if
the transaction is cancelled. A 96-item chunk write against a table of ten
thousand users then takes minutes and gigabytes, which says nothing about
Rekey: the bulk tests and the benchmarks spent most of their time there.
This keeps, instead, a copy of only the items the transaction touches and
puts exactly those back on cancellation: the same outcome (all or nothing,
across tables), at the cost of the transaction's own size. What moto stores
and answers is unchanged; infra/moto's tests hold that.

Run as: python3 -c <this file> REAL_MOTO_SERVER [moto_server arguments]
(infra/moto's Start). The patch applies only to the moto it was written for
(PATCHED_VERSION, the one pinned in infra/tools/requirements.txt); any other
moto runs as installed, and a Python without moto runs REAL_MOTO_SERVER.
"""

import copy
import os
import sys

PATCHED_VERSION = "5.2.1"


def _patch():
    import importlib.metadata

    try:
        version = importlib.metadata.version("moto")
    except importlib.metadata.PackageNotFoundError as e:
        raise ImportError(str(e))
    if version != PATCHED_VERSION:
        return False
    import moto.dynamodb.models as models
    from moto.dynamodb.models.dynamo_type import DynamoType

    original = models.DynamoDBBackend.transact_write_items

    def touched(backend, transact_items):
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

    def current(table, hash_value, range_value):
        if range_value is None:
            return table.items.get(hash_value)
        return table.items.get(hash_value, {}).get(range_value)

    def restore(table, hash_value, range_value, old):
        if range_value is None:
            if old is None:
                table.items.pop(hash_value, None)
            else:
                table.items[hash_value] = old
            return
        if old is None:
            table.items.get(hash_value, {}).pop(range_value, None)
        else:
            table.items.setdefault(hash_value, {})[range_value] = old

    real_deepcopy = copy.deepcopy

    def deepcopy_but_tables(obj, memo=None):
        # moto's own backup of a whole table is skipped: the items the
        # transaction touches are saved below instead.
        if isinstance(obj, models.Table):
            return obj
        return real_deepcopy(obj, memo)

    def transact_write_items(self, transact_items):
        saved = []
        for table, hash_value, range_value in touched(self, transact_items):
            old = current(table, hash_value, range_value)
            saved.append((table, hash_value, range_value, real_deepcopy(old) if old is not None else None))
        # infra/moto's proxy sends DynamoDB requests one at a time, so no
        # other transaction runs while copy.deepcopy is swapped.
        copy.deepcopy = deepcopy_but_tables
        try:
            return original(self, transact_items)
        except Exception:
            for table, hash_value, range_value, old in reversed(saved):
                restore(table, hash_value, range_value, old)
            raise
        finally:
            copy.deepcopy = real_deepcopy

    models.DynamoDBBackend.transact_write_items = transact_write_items
    return True


def main():
    real, args = sys.argv[1], sys.argv[2:]
    try:
        patched = _patch()
        from moto.server import main as moto_main
    except ImportError:
        os.execv(real, [real] + args)
    if not patched:
        print("moto: not %s, so it runs unpatched: transactions copy whole tables and are slow" % PATCHED_VERSION, file=sys.stderr)
    sys.argv = [real] + args
    moto_main(args)


main()
