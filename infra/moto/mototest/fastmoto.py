"""moto_server for tests, with moto's TransactWriteItems backup made linear.

moto 5.2's DynamoDBBackend.transact_write_items backs up a table before the
transaction by deep-copying it once per item of the transaction, not once per
table: a 96-item chunk write against a table of a few thousand items copies
the table 96 times, and the bulk tests spent most of their minutes there.
All those copies are taken before any item is applied, so they are equal;
this keeps the first copy of each table for the rest of the call. What moto
stores, answers and rolls back is unchanged.

Run as: python3 fastmoto.py REAL_MOTO_SERVER [moto_server arguments]. When
this Python has no moto (moto_server installed elsewhere) or moto changed
shape, it runs REAL_MOTO_SERVER unchanged.
"""

import copy
import os
import sys
import threading


def _patch():
    from moto.dynamodb import models

    backend = getattr(models, "DynamoDBBackend", None)
    table_type = getattr(models, "Table", None)
    original = getattr(backend, "transact_write_items", None)
    if original is None or table_type is None or getattr(models, "copy", None) is not copy:
        return False
    local = threading.local()

    class CopyOncePerTransaction:
        """Stands in for the copy module inside moto.dynamodb.models."""

        def __getattr__(self, name):
            return getattr(copy, name)

        def deepcopy(self, obj, memo=None):
            tables = getattr(local, "tables", None)
            if tables is None or memo is not None or not isinstance(obj, table_type):
                return copy.deepcopy(obj, memo)
            if id(obj) not in tables:
                tables[id(obj)] = (obj, copy.deepcopy(obj))
            return tables[id(obj)][1]

    def transact_write_items(self, *args, **kwargs):
        local.tables = {}
        try:
            return original(self, *args, **kwargs)
        finally:
            local.tables = None

    models.copy = CopyOncePerTransaction()
    backend.transact_write_items = transact_write_items
    return True


def main():
    real, args = sys.argv[1], sys.argv[2:]
    try:
        patched = _patch()
        from moto.server import main as moto_main
    except ImportError:
        patched = False
    if not patched:
        os.execv(real, [real] + args)
    sys.argv = [real] + args
    sys.exit(moto_main(args))


if __name__ == "__main__":
    main()
