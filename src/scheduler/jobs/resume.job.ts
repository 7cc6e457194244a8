import type { ResumeStuckEnvironments } from '../../core/use-cases/resume.use-case.js';

/** Resumes environments whose worker stopped (their lease lapsed or was given back). */
export const resumeJob = (resume: ResumeStuckEnvironments) => ({
  name: 'resume-lapsed',
  run: () => resume.execute(),
});
