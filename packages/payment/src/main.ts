import { runService } from '../../common/src/service.js';
import { paymentService } from './app.js';

await runService(paymentService);
