"""Chat bots: one command core (``bot.core``) driven by the command table (``bot.commands``),
with Telegram, Discord and console adapters, push alerts (``bot.fanout``) and a local Bot API
server for tests and demos (``bot.local_botapi``). See docs/bots.md."""
