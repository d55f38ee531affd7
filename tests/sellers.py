"""The seller of the tests' invoices, as INVOICER_SELLER_* would configure it."""

from worker.settings import SellerSettings

SELLER = SellerSettings(
    name="Bakkerij de Molen B.V.",
    vat_id="NL123456789B01",
    address_line1="Molenstraat 1",
    city="Utrecht",
    postal_code="3511 AA",
    country="NL",
    iban="NL91ABNA0417164300",
    bic="ABNANL2A",
)
