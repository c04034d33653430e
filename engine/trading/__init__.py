"""Orders and automation: TP/SL, trailing stops, DCA, auto-trade rules, the optional signer.

One concern per module:

- ``price``: exact prices as (lamports, raw tokens) and the price carried by a chain event;
- ``params``: validated order parameters (exit plans, DCA plans);
- ``orders``: the pure state machines (brackets with OCO legs, DCA schedules);
- ``store``: orders in the database, with the compare-and-set that makes triggering exactly-once;
- ``ports``: what the engine needs from the trade bridge and the chat (quotes, signing links);
- ``exits``: a triggered order becomes a freshly priced exit with a one-tap signing link;
- ``monitor``: the in-memory index mint → open orders, fed by every tick;
- ``attach``: attach exits or a DCA to a position (Mini App, ``/buy``, rules);
- ``policy`` and ``autotrade``: auto-trade rules checked against the user's policy;
- ``keystore`` and ``signer``: the opt-in server signer, encrypted at rest;
- ``positions``: positions and PnL from confirmed trades;
- ``jobs``: ``check_orders``, ``reprice_exit`` and ``auto_trade``.

See ``docs/trading.md``.
"""
