import time
import cProfile, pstats
import pytest
from o2o.errors import Conflict
from orders import redemption as flow
from tests.orders.test_redemption_races import counter  # noqa
from tests.factories.payments import paid_deal_order

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

def test_timing(counter):
    deal, staff, buyer = counter
    order = paid_deal_order(buyer, deal, 1)
    voucher = order.vouchers.get()
    t = time.perf_counter()
    flow.voucher_redeem(code=voucher.code, member=staff[0][0], store=staff[0][1])
    print("winner", time.perf_counter() - t)
    prof = cProfile.Profile()
    t = time.perf_counter()
    prof.enable()
    for member, store in staff * 2:
        try:
            flow.voucher_redeem(code=voucher.code, member=member, store=store)
        except Conflict:
            pass
    prof.disable()
    print("50 losers sequential", time.perf_counter() - t)
    pstats.Stats(prof).sort_stats("cumulative").print_stats(25)
