import { runService } from '@shop/common/service.js';
import { paymentService } from './app.js';

await runService(paymentService);
