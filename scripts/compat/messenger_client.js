// messaging-api-messenger (Bottender's Messenger client) against `switchboard emulator`.
// Run by crates/emulator/tests/client_libraries.rs with EMULATOR, PAGE_TOKEN, APP_SECRET, PSID
// (a person inside their window), BLOCKED (a person who blocked the page) and STRANGER (nobody).
'use strict';
const assert = require('assert');
const { MessengerClient } = require('messaging-api-messenger');

const env = (k) => {
  if (!process.env[k]) throw new Error(`${k} is not set`);
  return process.env[k];
};
const client = new MessengerClient({
  accessToken: env('PAGE_TOKEN'),
  appSecret: env('APP_SECRET'),
  origin: env('EMULATOR'),
});
const PSID = env('PSID');

function ok(what) {
  console.log('ok:', what);
}

/** The Graph error a call failed with: `[code, subcode]` (the client camel-cases its keys). */
async function graphError(call) {
  try {
    await call();
  } catch (e) {
    const error = e.response && e.response.data && e.response.data.error;
    assert.ok(error, `not a Graph error: ${e}`);
    return [error.code, error.errorSubcode ?? error.error_subcode];
  }
  throw new Error('the call succeeded');
}

async function main() {
  const text = await client.sendText(PSID, 'Hello from the emulator');
  assert.strictEqual(text.recipientId, PSID);
  assert.match(text.messageId, /^m_/);
  ok('sendText answers recipient_id and a mid');

  const quick = await client.sendText(PSID, 'Size?', {
    quickReplies: [{ contentType: 'text', title: 'M', payload: 'SIZE_M' }],
  });
  assert.ok(quick.messageId);
  ok('quick replies');

  const buttons = await client.sendButtonTemplate(PSID, 'Track your order', [
    { type: 'web_url', url: 'https://shop.test/track', title: 'Track' },
    { type: 'postback', title: 'Talk to us', payload: 'HUMAN' },
  ]);
  assert.ok(buttons.messageId);
  ok('button template');

  const image = await client.sendImage(PSID, Buffer.from('\x89PNG fake image bytes'), {
    filename: 'shirt.png',
  });
  assert.ok(image.messageId);
  ok('an image sent as multipart filedata');
  const upload = await client.uploadImage(Buffer.from('\x89PNG another'), {
    filename: 'b.png',
    isReusable: true,
  });
  assert.ok(upload.attachmentId);
  const reused = await client.sendAttachment(PSID, {
    type: 'image',
    payload: { attachmentId: upload.attachmentId },
  });
  assert.ok(reused.messageId);
  ok('message_attachments upload, then send by attachment_id');

  const profile = await client.getUserProfile(PSID);
  assert.strictEqual(profile.id, PSID);
  ok('user profile');

  const persona = await client.createPersona({
    name: 'Gifty',
    profilePictureUrl: 'https://shop.test/g.png',
  });
  assert.ok(persona.id);
  const read = await client.getPersona(persona.id);
  assert.strictEqual(read.name, 'Gifty');
  const asPersona = await client.sendText(PSID, 'Gifty here', { personaId: persona.id });
  assert.ok(asPersona.messageId);
  const deleted = await client.deletePersona(persona.id);
  assert.strictEqual(deleted.success, true);
  ok('persona created, read, spoken as and deleted');

  const typing = await client.typingOn(PSID);
  assert.strictEqual(typing.recipientId, PSID);
  ok('sender action');

  let e = await graphError(() => client.sendText(env('STRANGER'), 'hi'));
  assert.deepStrictEqual(e, [100, 2018001]);
  ok('unknown person: 100/2018001');
  e = await graphError(() => client.sendText(env('BLOCKED'), 'hi'));
  assert.deepStrictEqual(e, [551, 1545041]);
  ok('blocked person: 551/1545041');
  e = await graphError(() =>
    new MessengerClient({ accessToken: 'wrong', appSecret: env('APP_SECRET'), origin: env('EMULATOR') })
      .sendText(PSID, 'hi'));
  assert.strictEqual(e[0], 190);
  ok('bad token: 190');
  console.log('all checks passed');
}

main().catch((e) => {
  console.error('FAILED:', e && e.stack ? e.stack : e);
  process.exit(1);
});
