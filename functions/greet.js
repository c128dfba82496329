// The App Services form: the file assigns its entry point to the global `exports`.
exports = function (name) {
  const greeting = context.values.get('greeting');
  const env = context.environment.tag;
  console.log(`greeting ${name} in the ${env} environment`);
  return {
    message: `${greeting}, ${name}!`,
    at: new Date(0),
    id: BSON.ObjectId('5f1d7a2b9d4c3e0a1b2c3d4e'),
  };
};

// Lets Jest load the file; `module` is undefined in App Services, so this line does nothing there.
if (typeof module !== 'undefined') module.exports = exports;
