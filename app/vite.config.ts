import { defineConfig, type Plugin } from 'vite';
import react from '@vitejs/plugin-react';

// The generated client keeps the program's error messages behind a
// development-only guard; the console shows them to users, so the
// production bundle keeps them too.
function keepProgramErrorMessages(): Plugin {
  return {
    name: 'iogrid-keep-program-error-messages',
    transform(code, id) {
      if (!id.endsWith('/generated/errors/iogrid.ts')) return null;
      return code.replaceAll("process.env.NODE_ENV !== 'production'", 'true');
    },
  };
}

export default defineConfig({
  plugins: [keepProgramErrorMessages(), react()],
  build: { outDir: 'dist', sourcemap: false, chunkSizeWarningLimit: 600 },
});
