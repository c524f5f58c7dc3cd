// One Messenger channel; the Graph API is whatever SB_GRAPH_ORIGIN names (the bench's emulator).
// Page tokens follow the bench's scheme, so one bot serves all of the bench's pages.
module.exports = {
  session: { driver: 'memory', stores: { memory: { maxSize: 100000 } } },
  channels: {
    messenger: {
      enabled: true,
      path: '/webhooks/messenger',
      pageId: process.env.SB_PAGE_ID || '1000000001',
      accessToken: `bench-page-token-${process.env.SB_PAGE_ID || '1000000001'}`,
      appId: 'bench-app',
      appSecret: 'bench-app-secret',
      verifyToken: 'v',
      origin: process.env.SB_GRAPH_ORIGIN,
      skipAppSecretProof: true,
      mapPageToAccessToken: (pageId) => `bench-page-token-${pageId}`,
    },
  },
};
