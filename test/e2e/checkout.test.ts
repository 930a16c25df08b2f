/** The checkout suite (test/support/checkout-suite.ts) on unsharded data, as shipped by default. */
import { checkoutSuite } from '../support/checkout-suite.js';

checkoutSuite(1);
