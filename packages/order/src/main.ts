import { runService } from '../../common/src/service.js';
import { orderService } from './app.js';

await runService(orderService);
