import { describe, expect, it } from 'vitest';

import { nodeInDirection, NodeCenter } from '../src/graphModel';

// a → b → d and a → c, laid out top to bottom: a on top, b and c side by side, d under b.
const NODES: NodeCenter[] = [
  { id: 'a', x: 100, y: 0 },
  { id: 'b', x: 50, y: 80 },
  { id: 'c', x: 150, y: 80 },
  { id: 'd', x: 50, y: 160 }
];

describe('nodeInDirection', () => {
  it('moves to the nearest node that way, preferring one straight ahead', () => {
    expect(nodeInDirection(NODES, 'a', 'ArrowDown')).toBe('b');
    expect(nodeInDirection(NODES, 'b', 'ArrowRight')).toBe('c');
    expect(nodeInDirection(NODES, 'c', 'ArrowLeft')).toBe('b');
    expect(nodeInDirection(NODES, 'b', 'ArrowDown')).toBe('d');
    expect(nodeInDirection(NODES, 'd', 'ArrowUp')).toBe('b');
  });

  it('stays put at the edge of the graph or for an unknown node', () => {
    expect(nodeInDirection(NODES, 'a', 'ArrowUp')).toBeNull();
    expect(nodeInDirection(NODES, 'c', 'ArrowRight')).toBeNull();
    expect(nodeInDirection(NODES, 'zzz', 'ArrowDown')).toBeNull();
  });
});
