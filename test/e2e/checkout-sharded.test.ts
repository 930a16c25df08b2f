/** The checkout suite (test/support/checkout-suite.ts) on 2 shards per service. */
import { checkoutSuite } from '../support/checkout-suite.js';

checkoutSuite(2);
