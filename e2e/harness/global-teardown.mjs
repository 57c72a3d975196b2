// jest loads global teardown outside its module system; Node 24 runs the TypeScript itself.
export { default } from './global-teardown.ts';
