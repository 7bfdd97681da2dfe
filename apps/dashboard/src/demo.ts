/** Channels of the built-in demo traffic (`npm run demo`); pages start on these and let you change them. */
export const DEMO_CONTRACT = 'ST1PQHQKV0RJXZFY1DGX8MNSNYVE3VGZJSRTPGZGM';
export const CAMPAIGNS_CONTRACT = `${DEMO_CONTRACT}.campaigns`;
export const AUCTIONS_CONTRACT = `${DEMO_CONTRACT}.auctions`;
