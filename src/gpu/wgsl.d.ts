// `*.wgsl?raw` is the shader source (Vite); `*.wgsl?reflect` its interface, reflected at build
// time by the plugin in vite.config.ts.
declare module '*.wgsl?reflect' {
  const shaderInterface: import('./reflect.js').ShaderInterface;
  export default shaderInterface;
}
