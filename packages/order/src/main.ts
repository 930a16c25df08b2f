import { runService } from '@shop/common/service.js';
import { orderService } from './app.js';

await runService(orderService);
