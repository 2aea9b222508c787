/**
 * The manifest uploaded in Pipedrive's Developer Hub. The
 * `:placeholders` are Pipedrive's; getMessageById uses the nested form of the docs'
 * example, and the app also serves the flat form the OpenAPI path declares.
 */
export function buildManifest(appUrl: string) {
  const api = `${appUrl}/api/channels/:providerChannelId`;
  return {
    version: 'v202101',
    endpoints: {
      getConversations: `${api}/conversations`,
      getConversationById: `${api}/conversations/:sourceConversationId`,
      postMessage: `${api}/messages`,
      getMessageById: `${api}/conversations/:sourceConversationId/messages/:sourceMessageId`,
      getSenderById: `${api}/senders/:senderId`,
      getTemplates: `${api}/templates`,
      deleteChannelById: api,
    },
  };
}
