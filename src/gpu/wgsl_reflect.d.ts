// wgsl_reflect's package.json points Node's ESM loader at a CommonJS file; its ES module build
// is imported by path instead, with the package's own types.
declare module 'wgsl_reflect/wgsl_reflect.module.js' {
  export * from 'wgsl_reflect';
}
