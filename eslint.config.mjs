import nx from '@nx/eslint-plugin';
import tseslint from 'typescript-eslint';

// Dependency direction (ARCHITECTURE.md §2): apps compose libs; libs never import apps;
// `resources` (type:model) is importable everywhere; the LSM libs, the log parser and the
// store never import each other.
const depConstraints = [
  { sourceTag: 'type:app', onlyDependOnLibsWithTags: ['type:model', 'type:api', 'type:lsm', 'type:parser', 'type:store', 'type:engine'] },
  { sourceTag: 'type:model', onlyDependOnLibsWithTags: ['type:model'] },
  { sourceTag: 'type:api', onlyDependOnLibsWithTags: ['type:model'] },
  { sourceTag: 'type:lsm', onlyDependOnLibsWithTags: ['type:model'] },
  { sourceTag: 'type:parser', onlyDependOnLibsWithTags: ['type:model'] },
  { sourceTag: 'type:store', onlyDependOnLibsWithTags: ['type:model'] },
  { sourceTag: 'type:engine', onlyDependOnLibsWithTags: ['type:model', 'type:parser'] },
  { sourceTag: 'type:test', onlyDependOnLibsWithTags: ['type:model', 'type:api', 'type:lsm', 'type:parser', 'type:store', 'type:engine', 'type:app'] },
];

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', '.nx/**', 'data/**', 'tmp/**', 'libs/api/src/generated/**'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts', '**/*.mjs'],
    plugins: { '@nx': nx },
    rules: {
      '@nx/enforce-module-boundaries': ['error', { enforceBuildableLibDependency: false, allow: [], depConstraints }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
    },
  },
  {
    // Unit tests beside the code may use the shared test harness (real tools, real etcd).
    files: ['apps/*/src/**/*.test.ts', 'libs/*/src/**/*.test.ts'],
    rules: {
      '@nx/enforce-module-boundaries': ['error', { enforceBuildableLibDependency: false, allow: ['^(\.\./)+test/support/[a-z-]+\.js$'], depConstraints }],
    },
  },
);
