"""Column names of the frames built by :mod:`rallylens.features.gamma`.

Only the chain analytics (``gamma`` and its private ``_chain_rows``, ``_gex``
and ``_smile`` modules) use these; they are candidates for
:mod:`rallylens.schemas`. Strings starting with ``_`` are working columns that
never leave the package.
"""

from __future__ import annotations

# output columns (of ChainMetrics frames)
CALL_GEX, PUT_GEX, NET_GEX = "call_gex_usd", "put_gex_usd", "net_gex_usd"
CALL_OI, PUT_OI, MAX_PAIN, SPOT_OUT = "call_oi", "put_oi", "max_pain", "spot"
DAYS, FORWARD, ATM_IV, RR25, BF25 = "days", "forward", "atm_iv", "rr25", "bf25"
# private working columns: per option (years to expiry, vol, is-call flag,
# open interest, GEX, spot and its source, vol backed out of the price,
# left out of GEX), per strike (call/put vol, smile vol, ln(K/F), call and
# put delta), per expiry (25-delta call/put vol, total variance)
YEARS, VOL, CALL, OI, GEX = "_years", "_vol", "_is_call", "_oi", "_gex_usd"
SPOT, SOURCE, BACKED, LEFT_OUT = "_spot", "_spot_source", "_backed", "_left_out"
CALL_VOL, PUT_VOL, IV, K, DC, DP = "_cv", "_pv", "_iv", "_k", "_dc", "_dp"
C25, P25, W = "_c25", "_p25", "_w"
