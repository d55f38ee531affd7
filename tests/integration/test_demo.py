"""`invoicer dev --demo` tells the story of the sample orders on standard output, readable in
a pipe (no colour codes), in a stable order, and stops on Ctrl-C."""

from __future__ import annotations

import contextlib
import re
import signal
import subprocess
from datetime import date, timedelta
from pathlib import Path

from tests.faults.processes import environment_without_invoicer, invoicer_command
from tests.integration.test_operations_start_and_stop import (
    STOP_WITHIN_SECONDS,
    read_until,
)

DONE = b"The demo is done"


def test_the_demo_tells_each_invoice_its_events_and_the_close_command(
    tmp_path: Path,
) -> None:
    demo = subprocess.Popen(
        [*invoicer_command(), "dev", "--demo"],
        env={**environment_without_invoicer(), "TMPDIR": str(tmp_path)},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        story = read_until(demo, DONE).decode()  # bounded by the test's timeout
        demo.send_signal(signal.SIGINT)
        assert demo.wait(STOP_WITHIN_SECONDS) == 0
    finally:
        with contextlib.suppress(ProcessLookupError):
            demo.kill()
            demo.wait()

    assert "\x1b[" not in story
    sections = story.split("\n== ")[1:]
    assert [re.split(r":| \d{4}-", section, maxsplit=1)[0] for section in sections] == [
        "seller-updated keramik",
        "seller-updated koffiebranderij",
        "order-completed-inclusive",
        "order-completed-intra-community",
        "order-completed-jpy",
        "order-completed-marketplace-keramik",
        "order-completed-marketplace-koffiebranderij",
        "order-completed-vat",
        "order-completed-voucher",
        "order-completed",
        "order-completed-draft",
        "command close of the draft of order DE-3301",
        "command record-payment of the invoice of order DE-3301",
        "an overdue scan as if today were",
        "command record-payment of the invoice of order DE-3301",
        "order-returned RET-3301-1 of order DE-3301",
        "command refund-payment of the invoice of order DE-3301",
    ]
    numbers = [re.search(r"INV-\d{4}-(\d{6})", section) for section in sections]
    assert [None if n is None else int(n.group(1)) for n in numbers] == [
        None,
        None,
        1,
        2,
        3,
        None,
        None,
        4,
        5,
        6,
        None,
        7,
        7,
        7,
        7,
        None,
        7,
    ]
    # Two of a marketplace's merchants, registered first: each its own series, name and terms
    for merchant, number, issuer, gross, days in (
        (sections[5], "KWL-2026-000001", "Keramikwerkstatt Lindner GmbH", "254.18", 10),
        (sections[6], "ANKER-2026-000001", "Koffiebranderij Het Anker B.V.", "140.61", 30),
    ):
        assert f"invoice {number}, status open, issued by {issuer}" in merchant
        due = re.search(
            rf"gross {re.escape(gross)} EUR  amount due {re.escape(gross)}, due (\S+)", merchant
        )
        assert due is not None, merchant
        # its days to pay from the day it was issued (today, or yesterday past midnight)
        assert date.fromisoformat(due.group(1)) - date.today() in (
            timedelta(days),
            timedelta(days - 1),
        )
    vat = sections[7]
    assert "VAT     9 %: taxable 73.42, tax 6.61" in vat
    assert "VAT    21 %: taxable 87.75, tax 18.43" in vat
    assert "net 161.17  tax 25.04  gross 186.21 EUR" in vat
    closed, notified = vat.index("-> invoice-closed"), vat.index("-> notification-requested")
    assert closed < notified
    # A 27.90 voucher over 29.98 at 7 % and 249.00 at 19 % (3.00 and 24.90), shipping at 19 %
    voucher = sections[8]
    assert "allowance Gutschein WINTER10 (10 %) 27.90: 7 % 3.00, 19 % 24.90" in voucher
    assert "charge Versand 4.90: 19 % 4.90" in voucher
    assert "VAT     7 %: taxable 25.21, tax 1.77" in voucher
    assert "VAT    19 %: taxable 192.44, tax 36.56" in voucher
    assert "lines net 237.25  allowances 23.72  charges 4.12" in voucher
    assert "net 217.65  tax 38.33  gross 255.98 EUR" in voucher
    assert "-> invoice-created" in sections[10]
    assert "result: ok true, status open" in sections[11]
    assert "-> notification-requested" in sections[11]
    assert "500.00 paid, 1026.53 due" in sections[12]
    assert "reminder 1 by email" in sections[13]
    assert "-> invoice-overdue" in sections[13]
    assert "status paid" in sections[14]
    returned = sections[15]
    assert "credit note CN-2026-000001, status open" in returned
    assert "VAT    19 %: taxable 190.00, tax 36.10" in returned
    assert "refund owed on the invoice: 226.10 EUR" in returned
    assert "credit note of 226.10 by email" in returned
    assert "result: ok true, status paid" in sections[16]
    assert "0.00 due, 0.00 owed back" in sections[16]
