import { createContext, useContext } from 'react';

/** The token the dashboard connects with ('' in development mode), for plain HTTP calls. */
export const TokenContext = createContext('');
export const useToken = () => useContext(TokenContext);
