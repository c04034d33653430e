"""The non-custodial trade bridge: Jupiter quotes and unsigned swaps, the risk and policy gate,
checking and sending what the user signed, confirming it, and Phantom's deeplink protocol.

The server never holds a user's key and never sends bytes the user did not sign.
"""
