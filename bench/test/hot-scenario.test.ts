/** Scenario (e) hot: named on the command line, and the shape every one of its orders must have. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseCli, DEFAULT_SCENARIOS } from '../cli.js';
import { HOT_ITEM, SCENARIO_DEFS, hotShapeOk } from '../scenarios.js';

const scenariosOf = (argv: string[]): string[] => {
  const o = parseCli(argv);
  if (o === 'help') throw new Error('help');
  return o.scenarios;
};

describe('bench scenario (e) hot', () => {
  it('is named hot or e, and is not part of the default run', () => {
    assert.deepEqual(scenariosOf(['--scenario', 'e,b']), ['hot', 'fresh']);
    assert.deepEqual(scenariosOf(['--scenario', 'hot']), ['hot']);
    assert.deepEqual(scenariosOf([]), [...DEFAULT_SCENARIOS]);
    assert.equal(SCENARIO_DEFS.hot.label, 'e');
  });

  it('accepts an order of the hot item (2 units) and one other item, nothing else', () => {
    assert.ok(hotShapeOk([[HOT_ITEM, 2], ['417', 1]]));
    assert.ok(hotShapeOk([['9', 1], [HOT_ITEM, 2]]));
    assert.ok(!hotShapeOk([[HOT_ITEM, 2]]), 'no other item');
    assert.ok(!hotShapeOk([[HOT_ITEM, 3], ['5', 1]]), 'the hot item once more');
    assert.ok(!hotShapeOk([[HOT_ITEM, 2], ['5', 1], ['6', 1]]), 'a third line');
    assert.ok(!hotShapeOk([['4', 2], ['5', 1]]), 'no hot item');
  });
});
