// The same work Switchboard's bench asks of Switchboard: one text reply per message.
module.exports = async function App(context) {
  if (context.event.isText) {
    await context.sendText('Thanks! We will answer soon.');
  }
};
