import { runService } from '@shop/common/service.js';
import { stockService } from './app.js';

await runService(stockService);
