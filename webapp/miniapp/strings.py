"""The strings the Mini App's scripts show, by key; each page embeds them translated as JSON.

Keys are what the JavaScript asks for (``t('buy_for', {amount})``); values are English msgids of
the ``miniapp`` domain with ``%(name)s`` placeholders, which the script fills.
"""

from __future__ import annotations

import gettext
from typing import Final

from webapp.miniapp.i18n import N_

JS_STRINGS: Final[dict[str, str]] = {
    # time
    "ago_s": N_("%(n)ss ago"),
    "ago_m": N_("%(n)s min ago"),
    "ago_h": N_("%(n)s h ago"),
    "ago_d": N_("%(n)s d ago"),
    # signals and tokens
    "strength": N_("Strength (0-3)"),
    "price_1h": N_("Price over the last hour"),
    "no_signals": N_("No signal matches yet. New ones appear here as they fire."),
    "could_not_load": N_("Could not load this. Pull to refresh or try again later."),
    "no_signal": N_("No signal for this token yet."),
    "no_signal_because": N_("No signal yet: %(reason)s"),
    "fired_ago": N_("fired %(when)s"),
    "no_trades_window": N_("No trades in this window"),
    "copied": N_("Copied"),
    "comp_smart_burst": N_("Smart money"),
    "comp_momentum": N_("Momentum"),
    "comp_liquidity": N_("Liquidity"),
    "comp_risk": N_("Safety"),
    # risk
    "risk_low": N_("Low risk"),
    "risk_medium": N_("Medium risk"),
    "risk_high": N_("High risk"),
    "risk_critical": N_("Critical risk"),
    "risk_unknown": N_("Not checked"),
    "risk_checked": N_("Checked %(when)s."),
    "risk_unchecked": N_("Not checked yet: buying stays off until it is."),
    "buy_blocked": N_("Buying is off for this token: its risk is critical or unknown."),
    "badge_tax": N_("%(percent)s%% transfer tax"),
    "badge_unverified": N_("unverified"),
    "badge_mint_authority": N_("mint authority"),
    "badge_freeze_authority": N_("freeze authority"),
    "badge_permanent_delegate": N_("permanent delegate"),
    "badge_default_frozen": N_("frozen by default"),
    "badge_transfer_hook": N_("transfer hook"),
    "badge_top_holder": N_("top holder"),
    "badge_concentrated": N_("concentrated"),
    "badge_dev_selling": N_("dev selling"),
    "badge_lp_not_burnt": N_("LP not burnt"),
    "badge_untradeable": N_("cannot sell"),
    "badge_sell_unverified": N_("sell untested"),
    "badge_help_mint_authority": N_("The creator can still mint more tokens."),
    "badge_help_freeze_authority": N_("The creator can freeze your tokens so you cannot sell."),
    "badge_help_permanent_delegate": N_("Someone can move tokens out of any holder's account."),
    "badge_help_default_frozen": N_("New token accounts start frozen."),
    "badge_help_transfer_hook": N_("A program runs on every transfer and may block it."),
    "badge_help_top_holder": N_("One wallet holds a large share of the supply."),
    "badge_help_concentrated": N_("The ten largest holders own most of the supply."),
    "badge_help_dev_selling": N_("The creator has sold most of their tokens."),
    "badge_help_lp_not_burnt": N_("The pool's liquidity can be withdrawn."),
    "badge_help_untradeable": N_("A test sale failed or lost too much: you may not get out."),
    "badge_help_sell_unverified": N_("Selling has not been tested yet."),
    "badge_help_unverified": N_("The mint could not be read."),
    # trade
    "buy": N_("Buy"),
    "sell": N_("Sell"),
    "buy_for": N_("Buy for %(amount)s"),
    "sell_amount": N_("Sell %(amount)s %(symbol)s"),
    "amount_sol": N_("Amount (SOL)"),
    "amount_tokens": N_("Amount (%(symbol)s)"),
    "sell_share_hint": N_(
        "The link asks to sell %(percent)s%% of your holding: enter that amount of tokens."
    ),
    "quote": N_("Quote"),
    "you_pay": N_("You pay"),
    "you_receive": N_("You receive"),
    "minimum_received": N_("Minimum received"),
    "price_impact": N_("Price impact"),
    "slippage": N_("Slippage"),
    "route": N_("Route"),
    "received": N_("Received %(amount)s"),
    "confirm_large": N_("%(reason)s Confirm this trade?"),
    "cancelled": N_("Cancelled."),
    "step_prepare": N_("Preparing the transaction"),
    "step_sign": N_("Signing in your wallet"),
    "step_submit": N_("Sending to the network"),
    "step_confirm": N_("Confirming"),
    "status_prepared": N_("Prepared"),
    "status_submitted": N_("Submitted: waiting for confirmation"),
    "status_confirmed": N_("Confirmed"),
    "status_failed": N_("Failed"),
    "status_expired": N_("Expired: nothing was executed"),
    "view_order": N_("View order"),
    "side": N_("Side"),
    "token": N_("Token"),
    "signature": N_("Signature"),
    "error": N_("Error"),
    "updated": N_("Updated"),
    # wallet
    "connect_phantom": N_("Connect Phantom"),
    "open_in_phantom": N_("Open in Phantom"),
    "sign_in_phantom": N_("Sign in Phantom"),
    "sign_in_phantom_hint": N_("No wallet in Telegram: sign in the Phantom app."),
    "no_wallet": N_("No Solana wallet found. Install Phantom or open this from Telegram."),
    "wallet_connected": N_("Wallet:"),
    "wallet_linked": N_("Linked to your account:"),
    "wallet_other_linked": N_("Your account is linked to %(wallet)s; signing links this one."),
    "phantom_connect_buy": N_("Buy for %(amount)s: first connect Phantom."),
    "phantom_connect_sell": N_("Sell: first connect Phantom."),
    "phantom_sign_now": N_("Phantom is connected. Now sign the transaction."),
    "phantom_refused": N_("Phantom did not sign: %(reason)s"),
    "phantom_flow_lost": N_(
        "This signing session is unknown or expired in this browser. Start again from Telegram."
    ),
    # watchlist and rules
    "remove": N_("Remove"),
    "role_trigger": N_("trigger"),
    "role_filter": N_("filter"),
    "origin_default": N_("default"),
    "origin_global": N_("global"),
    "origin_user": N_("yours"),
    # errors
    "request_id": N_("request"),
    "err_network": N_("The server cannot be reached. Check your connection."),
    "err_auth": N_("Telegram sign-in was refused: %(reason)s. Reopen the app from the bot."),
    "err_rate_limited": N_("Too many requests: wait a moment."),
    "err_need_telegram": N_("Open this from the bot in Telegram to trade and see your lists."),
    "err_amount": N_("Enter a valid amount."),
    "err_wallet": N_("The wallet refused: %(reason)s"),
    "err_wallet_no_key": N_("The wallet gave no address."),
    "err_wallet_result": N_("The wallet answered something that is not a transaction."),
    "err_wallet_mismatch": N_("The trade is for wallet %(wallet)s, not the one connected."),
    "err_not_signer": N_("The connected wallet is not a signer of this transaction."),
    "err_not_signed": N_("The wallet returned the transaction unsigned."),
}


def for_js(tr: gettext.NullTranslations) -> dict[str, str]:
    """Every script string translated with ``tr``."""
    return {key: tr.gettext(msgid) for key, msgid in JS_STRINGS.items()}
