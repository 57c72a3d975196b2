// ts-jest rewrites relative `./x.ts` imports to `./x.js`; resolve those back to the sources.
module.exports = (request, options) => {
  try {
    return options.defaultResolver(request, options);
  } catch (err) {
    if (request.startsWith('.') && request.endsWith('.js')) {
      return options.defaultResolver(`${request.slice(0, -3)}.ts`, options);
    }
    throw err;
  }
};
