import { describe, expect, it } from 'vitest';
import { buildOrder, recipeHash, recipes } from '../../src/runtime/images.ts';

describe('image recipes', () => {
  it('a versions-<tag>.env beside versions.env is one more image of the same folder', async () => {
    const kafka = (await recipes()).filter((r) => r.name === 'kafka');
    expect(kafka.map((r) => [r.tag, r.versions.KAFKA_VERSION])).toEqual([
      ['midlab/kafka:latest', '3.9.2'],
      ['midlab/kafka:4.4', '4.4.0'],
    ]);
    const tags = (names: string[]) => buildOrder(names).then((rs) => rs.map((r) => r.tag));
    expect(await tags(['kafka'])).toEqual(expect.arrayContaining(['midlab/kafka:latest', 'midlab/kafka:4.4']));
    expect(await tags(['kafka:4.4'])).not.toContain('midlab/kafka:latest');
    await expect(tags(['kafka:9.9'])).rejects.toThrow(/no image named kafka:9.9/);
  });
  it("an image's hash leaves out the other images' versions files", async () => {
    const [latest, v44] = (await recipes()).filter((r) => r.name === 'kafka');
    if (!latest || !v44) throw new Error('no kafka recipes');
    const h = await recipeHash(latest, 'parent');
    expect(await recipeHash({ ...latest, versionsFile: v44.versionsFile }, 'parent')).not.toBe(h);
    expect(await recipeHash(v44, 'parent')).not.toBe(h);
  });
});
