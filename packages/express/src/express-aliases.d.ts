// The tests run against Express 4 too, installed under aliases (package.json); its API as far as the tests
// use it is Express 5's, so they borrow Express 5's types.
declare module 'express4' {
  import express from 'express';
  export default express;
}
declare module 'express417' {
  import express from 'express';
  export default express;
}
/** The standalone router 2.2, before layers kept their paths (rawPath came in 2.3); Express 5's Router API. */
declare module 'router22' {
  import { Router } from 'express';

  const router: typeof Router;
  export default router;
}
