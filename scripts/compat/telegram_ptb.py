"""python-telegram-bot against `switchboard emulator`, as a developer would point it there.

Run by crates/emulator/tests/client_libraries.rs with EMULATOR (base URL of an emulator without
rate limits), LIMITED (one with Telegram's limits), BOT_TOKEN, CHAT_ID and ASKED (the id of a
message the user sent). Every check names what it protects; any failure exits
non-zero with the library's own exception or a message.
"""

import asyncio
import io
import os
import struct
import sys

from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaPhoto,
    MessageEntity,
    ReactionTypeEmoji,
    ReplyParameters,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, RetryAfter
from telegram.request import HTTPXRequest

BASE = os.environ["EMULATOR"]
LIMITED = os.environ["LIMITED"]
TOKEN = os.environ["BOT_TOKEN"]
CHAT = int(os.environ["CHAT_ID"])
ASKED = int(os.environ["ASKED"])


def png(w, h):
    return b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR" + struct.pack(">II", w, h) + bytes(209)


def check(ok, what):
    if not ok:
        raise AssertionError(what)
    print("ok:", what)


def bot_at(base):
    return Bot(
        TOKEN,
        base_url=f"{base}/bot",
        base_file_url=f"{base}/file/bot",
        request=HTTPXRequest(connection_pool_size=4),
    )


async def main():
    async with bot_at(BASE) as bot:
        me = await bot.get_me()
        check(me.is_bot and me.username, "getMe answers a bot user")

        # Formatting: entities come back and the library rebuilds the markup from them.
        sent = await bot.send_message(
            CHAT, "👋 <b>مرحبا</b> and <i>hi</i> https://shop.test", parse_mode=ParseMode.HTML
        )
        kinds = [e.type for e in sent.entities]
        check(kinds == [MessageEntity.BOLD, MessageEntity.ITALIC, MessageEntity.URL], f"entities {kinds}")
        check(sent.parse_entity(sent.entities[0]) == "مرحبا", "UTF-16 offsets after an emoji")
        check(sent.text_html.startswith("👋 <b>مرحبا</b>"), f"text_html {sent.text_html!r}")
        md = await bot.send_message(CHAT, "*bold* and `code`", parse_mode=ParseMode.MARKDOWN_V2)
        check([e.type for e in md.entities] == ["bold", "code"], "MarkdownV2 entities")
        try:
            await bot.send_message(CHAT, "Price 5.00", parse_mode=ParseMode.MARKDOWN_V2)
            check(False, "an unescaped '.' is refused")
        except BadRequest as e:
            check("can't parse entities" in e.message.lower(), f"an unescaped '.' is a BadRequest: {e.message}")

        # Replies.
        reply = await bot.send_message(CHAT, "On its way", reply_parameters=ReplyParameters(ASKED))
        check(reply.reply_to_message and reply.reply_to_message.message_id == ASKED, "reply_to_message")
        try:
            await bot.send_message(CHAT, "?", reply_parameters=ReplyParameters(99999))
            check(False, "a reply to a missing message is refused")
        except BadRequest as e:
            check(e.message == "Message to be replied not found", f"BadRequest {e.message!r}")

        # Keyboards, edits, copies, chats, reactions.
        kb = InlineKeyboardMarkup([[InlineKeyboardButton("Buy", callback_data="buy")]])
        offer = await bot.send_message(CHAT, "Offer", reply_markup=kb)
        sold = InlineKeyboardMarkup([[InlineKeyboardButton("Sold out", callback_data="none")]])
        edited = await bot.edit_message_reply_markup(CHAT, offer.message_id, reply_markup=sold)
        check(edited.reply_markup.inline_keyboard[0][0].text == "Sold out", "editMessageReplyMarkup")
        copied = await bot.copy_message(CHAT, CHAT, offer.message_id)
        check(copied.message_id > offer.message_id, "copyMessage returns a new MessageId")
        chat = await bot.get_chat(CHAT)
        check(chat.id == CHAT and chat.type == "private", "getChat")
        check(await bot.set_message_reaction(CHAT, offer.message_id, [ReactionTypeEmoji("👍")]), "setMessageReaction")

        # Files: real dimensions, getFile and the download.
        photo = await bot.send_photo(CHAT, io.BytesIO(png(1000, 500)), caption="<b>banner</b>", parse_mode="HTML")
        dims = [(p.width, p.height) for p in photo.photo]
        check(dims == [(90, 45), (320, 160), (800, 400), (1000, 500)], f"photo sizes {dims}")
        check(photo.caption_entities[0].type == "bold", "caption entities")
        f = await bot.get_file(photo.photo[-1].file_id)
        data = await f.download_as_bytearray()
        check(bytes(data) == png(1000, 500), "download returns the uploaded bytes")
        doc = await bot.send_document(CHAT, io.BytesIO(b"%PDF-1.4 report"), filename="report.pdf")
        check(doc.document.file_name == "report.pdf" and doc.document.file_size == 15, "document name and size")
        album = await bot.send_media_group(
            CHAT,
            [InputMediaPhoto(io.BytesIO(png(400, 300))), InputMediaPhoto(io.BytesIO(png(300, 400)))],
        )
        check(len(album) == 2 and album[0].media_group_id == album[1].media_group_id, "sendMediaGroup (attach://)")
        check((album[1].photo[-1].width, album[1].photo[-1].height) == (300, 400), "album photo sizes")

        updates = await bot.get_updates(timeout=0)
        check(any(u.message and u.message.message_id == ASKED for u in updates), "getUpdates")

    # A short burst to one chat is tolerated, then the per-chat limit answers RetryAfter.
    async with bot_at(LIMITED) as limited:
        sent = 0
        retry = None
        for _ in range(30):
            try:
                await limited.send_message(CHAT, "burst")
                sent += 1
            except RetryAfter as e:
                retry = e
                break
        check(sent >= 10, f"a burst of {sent} went through")
        wait = getattr(retry.retry_after, "total_seconds", lambda: retry.retry_after)() if retry else 0
        check(wait >= 1, "then RetryAfter with the seconds to wait")
    print("all checks passed")


try:
    asyncio.run(main())
except Exception as e:  # noqa: BLE001 - report whatever the library raised
    print(f"FAILED: {type(e).__name__}: {e}", file=sys.stderr)
    sys.exit(1)
