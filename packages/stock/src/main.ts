import { runService } from '../../common/src/service.js';
import { stockService } from './app.js';

await runService(stockService);
